"""`make dev`'s ingest pollers (devstack/poller.py) batch, and run at once, as the deployed event source
mapping does: read from the synthesized template, not written down a second time."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from aws_cdk.assertions import Template

from devstack.poller import EventSource, main
from devstack.rehearsal import RehearsalError, event_source


def _mapping(template: dict[str, Any]) -> dict[str, Any]:
    [resource] = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    properties: dict[str, Any] = resource["Properties"]
    return properties


def test_the_local_pollers_take_the_deployed_mapping_s_batching_and_concurrency(template: Template) -> None:
    synthesized = template.to_json()
    properties = _mapping(synthesized)

    source = event_source(synthesized)

    assert source == EventSource(
        batch_size=properties["BatchSize"],
        window_seconds=properties["MaximumBatchingWindowInSeconds"],
        max_concurrency=properties["ScalingConfig"]["MaximumConcurrency"],
    )
    # What docs/operations.md and the bench describe: batches of up to 100 within 1 s, 5 at once.
    assert source == EventSource(100, 1, 5)
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source.arguments() == ["100", "1", "5"]


def test_a_mapping_the_local_stack_cannot_rehearse_is_refused(template: Template) -> None:
    uncapped = copy.deepcopy(template.to_json())
    del _mapping(uncapped)["ScalingConfig"]
    with pytest.raises(RehearsalError, match="MaximumConcurrency"):
        event_source(uncapped)

    none = copy.deepcopy(template.to_json())
    none["Resources"] = {
        logical_id: resource
        for logical_id, resource in none["Resources"].items()
        if resource["Type"] != "AWS::Lambda::EventSourceMapping"
    }
    with pytest.raises(RehearsalError, match="0 event source mappings"):
        event_source(none)


def test_the_poller_refuses_a_command_line_without_the_mapping_s_settings() -> None:
    with pytest.raises(SystemExit, match="BATCH_SIZE WINDOW_SECONDS MAX_CONCURRENCY"):
        main(["http://localhost:1/queue"])
