"""`make dev`'s ingest poller (devstack/poller.py) batches as the deployed event source mapping does."""

from __future__ import annotations

from aws_cdk.assertions import Template

from devstack.poller import EVENT_SOURCE


def test_the_local_poller_batches_as_the_deployed_event_source_mapping(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": EVENT_SOURCE.batch_size,
            "MaximumBatchingWindowInSeconds": EVENT_SOURCE.window_seconds,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
