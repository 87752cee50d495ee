"""`make dev`'s ingest pollers (devstack/poller.py) batch, and run at once, as the deployed event source
mapping does."""

from __future__ import annotations

from aws_cdk.assertions import Template

from devstack.poller import EVENT_SOURCE


def test_the_local_pollers_batch_as_the_deployed_event_source_mapping(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": EVENT_SOURCE.batch_size,
            "MaximumBatchingWindowInSeconds": EVENT_SOURCE.window_seconds,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": EVENT_SOURCE.max_concurrency},
        },
    )
