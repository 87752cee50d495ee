"""The bill check in the stack: the admin keys' KMS key, the daily reconcile function and its schedule."""

from __future__ import annotations

from typing import Any

from devstack.rehearsal import role_statements
from shared.resources import ADMIN_KEY_KMS_ALIAS
from tests.infra.test_stack import _function, _resources

LOGS_AND_TRACES = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}


def _statements_of(template_json: dict[str, Any], function: str) -> list[dict[str, Any]]:
    return role_statements(template_json, template_json["Resources"][function])


def _granted(statements: list[dict[str, Any]]) -> set[str]:
    return {
        action
        for statement in statements
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }


def _kms_key(template_json: dict[str, Any]) -> str:
    """The admin keys' KMS key, found by its alias."""
    [alias] = [
        alias
        for alias in _resources(template_json, "AWS::KMS::Alias").values()
        if alias["Properties"]["AliasName"] == ADMIN_KEY_KMS_ALIAS
    ]
    name: str = alias["Properties"]["TargetKeyId"]["Fn::GetAtt"][0]
    key = template_json["Resources"][name]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "RetainExceptOnCreate"  # without it the stored admin keys are lost
    return name


def test_reconcile_runs_daily_from_eventbridge_scheduler(template_json: dict[str, Any]) -> None:
    reconcile, properties = _function(template_json, "codecosts-reconcile")
    [schedule] = _resources(template_json, "AWS::Scheduler::Schedule").values()
    assert schedule["Properties"]["ScheduleExpression"] == "cron(30 3 * * ? *)"
    assert schedule["Properties"]["ScheduleExpressionTimezone"] == "Etc/UTC"
    assert schedule["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [reconcile, "Arn"]}
    assert properties["Handler"] == "functions.reconcile.handler.handler"
    assert properties["Timeout"] == 600


def test_reconcile_gets_only_what_it_calls(template_json: dict[str, Any]) -> None:
    reconcile, _ = _function(template_json, "codecosts-reconcile")
    statements = _statements_of(template_json, reconcile)
    assert _granted(statements) - LOGS_AND_TRACES == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:Query",
        # The alerts' sent markers, read at once before any is claimed.
        "dynamodb:BatchGetItem",
        # The drift and unrecorded-spend alerts after a sync, by email.
        "sns:Publish",
        "kms:Decrypt",
    }
    [decrypt] = [s for s in statements if s["Action"] == "kms:Decrypt"]
    assert decrypt["Resource"] == {"Fn::GetAtt": [_kms_key(template_json), "Arn"]}


def test_the_functions_reading_admin_keys_are_told_the_keys_arn(template_json: dict[str, Any]) -> None:
    key_arn = {"Fn::GetAtt": [_kms_key(template_json), "Arn"]}
    for service in ("codecosts-api", "codecosts-usage-export", "codecosts-reconcile"):
        _, properties = _function(template_json, service)
        assert properties["Environment"]["Variables"]["CODECOSTS_ADMIN_KEY_KMS_KEY"] == key_arn


def test_the_api_may_encrypt_and_decrypt_admin_keys_with_that_key_only(template_json: dict[str, Any]) -> None:
    api, _ = _function(template_json, "codecosts-api")
    [statement] = [s for s in _statements_of(template_json, api) if "kms:Encrypt" in s["Action"]]
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:Encrypt"]
    assert statement["Resource"] == {"Fn::GetAtt": [_kms_key(template_json), "Arn"]}
    export, _ = _function(template_json, "codecosts-usage-export")
    assert not any(action.startswith("kms:") for action in _granted(_statements_of(template_json, export)))
