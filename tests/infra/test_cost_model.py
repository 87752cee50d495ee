"""The bench's cost model (bench/scale_cost.py) against sums worked out by hand from the list prices:
storage a call leaves, what a deployment pays each month whatever its calls, and the figures read at
the model's request size."""

from __future__ import annotations

import pytest

from bench import scale_cost
from bench.bodies import BodiesResult


def _measured(**changes: float) -> scale_cost.Measured:
    figures = {
        "record_wru": 11.7,
        "body_wru": 0,
        "s3_puts": 1.0,
        "s3_gets": 1.0,
        "message_bytes": 40_000,
        "proxy_peak_rss_mib": 113,
        "proxy_rss_per_stream_mib": 0.7,
        "proxy_rest_rss_mib": 57,
        "proxy_files_per_stream": 2.5,
        "proxy_cpu_ms": 4.0,
        "ingest_cpu_ms": 2.0,
        "cold_cpu_ms": 380,
        "restored_cpu_ms": 21,
        "publish_cpu_ms": 2.0,
        "table_bytes": 1_000,
        "index_bytes": 4_000,
        "s3_bytes": 20_000,
    }
    return scale_cost.Measured(**{**figures, **changes})  # type: ignore[arg-type]


def _line(lines: list[scale_cost.Line], item: str) -> float:
    return next(line.dollars for line in lines if line.item == item)


def test_storage_a_call_leaves_is_priced_by_hand() -> None:
    lines = scale_cost.default_lines(_measured(), 160)
    # A million calls keep 5 GB in DynamoDB ($0.25 a GB-month) of which 1 GB is backed up ($0.20).
    assert scale_cost.record_storage_monthly(_measured()) == pytest.approx(5 * 0.25 + 1 * 0.20)
    assert _line(lines, "DynamoDB storage, the first month") == pytest.approx(1.45)
    # 20 GB of bodies at $0.023 a GB-month, kept 30 days and the lifecycle rule's day (of 365/12).
    assert _line(lines, "S3 storage") == pytest.approx(20 * 0.023 * 31 / (365 / 12))


def test_a_message_of_one_chunk_is_one_sqs_request_each_way() -> None:
    lines = scale_cost.default_lines(_measured(message_bytes=65_536), 160)
    # Send and receive, one 64 KB chunk each, and the batch's delete shared by 25: $0.40 a million.
    assert _line(lines, "SQS") == pytest.approx((2 + 2 / 25) * 0.40)
    two_chunks = scale_cost.default_lines(_measured(message_bytes=65_537), 160)
    assert _line(two_chunks, "SQS") == pytest.approx((4 + 2 / 25) * 0.40)


def test_standing_charges_are_counted_in_the_template() -> None:
    single = {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "Errors"}}
    math = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "Metrics": [
                {"Id": "errors", "MetricStat": {}},
                {"Id": "calls", "MetricStat": {}},
                {"Id": "rate", "Expression": "errors / calls"},
            ]
        },
    }
    template = {
        "Resources": {
            "A": single,
            "B": math,
            "K": {"Type": "AWS::KMS::Key"},
            "S": {"Type": "AWS::SecretsManager::Secret"},
            "Q": {"Type": "AWS::SQS::Queue"},
        }
    }
    lines = scale_cost.standing_lines(template)
    assert _line(lines, "Alarms") == pytest.approx(3 * 0.10)  # one metric, then two: the expression is free
    assert _line(lines, "KMS keys") == 1.00
    assert _line(lines, "Secrets") == 0.40
    assert _line(lines, "Dashboards") == 0


def test_standing_charges_come_on_top_of_the_high_volume_month_only_when_given() -> None:
    standing = [scale_cost.Line("Alarms", 3.0, "")]
    bare = scale_cost.high_volume(_measured(), 10_000_000)
    with_standing = scale_cost.high_volume(_measured(), 10_000_000, standing)
    assert with_standing.monthly == pytest.approx(bare.monthly + 3.0)


def test_figures_are_read_at_the_models_request_size() -> None:
    result = BodiesResult(turns=3, request_bytes=[80_000, 100_000, 120_000])
    assert result.at_request_bytes([40_000, 50_000, 60_000], 90_000) == pytest.approx(45_000)
    assert result.first_request_bytes == 80_000
    assert result.last_request_bytes == 120_000
