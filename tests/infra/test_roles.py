"""What each function's role may touch, checked on the synthesized template: the rehearsal enforces
its actions locally, and its DynamoDB resources (table or index); this is where the other services'
resources are held to account, and every grant's resources are this stack's own."""

from __future__ import annotations

import json
from typing import Any

from devstack.rehearsal import function_name, role_statements
from shared.resources import BODIES_BUCKET, TABLE

# X-Ray supports no resource-level permissions: the one place "*" is allowed.
TRACING = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def _functions(template_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        function_name(resource): resource
        for resource in template_json["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
    }


def _references(value: Any) -> set[str]:
    """The logical ids a template expression refers to (Ref and Fn::GetAtt)."""
    if isinstance(value, dict):
        found = set()
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0])
            else:
                found |= _references(inner)
        return found
    if isinstance(value, list):
        return set().union(*(_references(inner) for inner in value)) if value else set()
    return set()


def test_function_roles_name_only_this_stacks_resources(template_json: dict[str, Any]) -> None:
    stack_resources = set(template_json["Resources"])
    for name, function in _functions(template_json).items():
        statements = role_statements(template_json, function)
        assert statements, name
        for statement in statements:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert statement["Effect"] == "Allow" and all("*" not in action for action in actions)
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            if resources == ["*"]:
                assert set(actions) == TRACING, (name, statement)
                continue
            for resource in resources:
                # Built from this stack's own resources (pseudo parameters aside), never a literal ARN,
                # and no wildcard but the bodies prefix of this stack's bucket.
                assert isinstance(resource, dict), (name, resource)
                assert (
                    _references(resource) - {"AWS::Region", "AWS::AccountId", "AWS::Partition"}
                    <= stack_resources
                )
                assert _references(resource), (name, resource)
                assert "*" not in json.dumps(resource).replace(f"/{BODIES_BUCKET.bodies_prefix}*", ""), (
                    resource
                )
    for role in (r for r in template_json["Resources"].values() if r["Type"] == "AWS::IAM::Role"):
        assert "ManagedPolicyArns" not in role["Properties"]


def test_the_api_queries_only_the_tables_named_indexes(template_json: dict[str, Any]) -> None:
    for name in ("api", "usage_export"):
        statements = role_statements(template_json, _functions(template_json)[name])
        (index_query,) = (s for s in statements if s["Action"] == "dynamodb:Query")
        # Each resource is Fn::Join of the table's ARN and "/index/<name>": the named indexes, no wildcard.
        assert {arn["Fn::Join"][1][-1] for arn in index_query["Resource"]} == {
            f"/index/{index.name}" for index in TABLE.indexes
        }


def _table_actions(template_json: dict[str, Any], name: str) -> set[str]:
    """The actions a function's role grants on the table itself (not its indexes)."""
    (table,) = (
        logical_id
        for logical_id, resource in template_json["Resources"].items()
        if resource["Type"] == "AWS::DynamoDB::Table"
    )
    granted: set[str] = set()
    for statement in role_statements(template_json, _functions(template_json)[name]):
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        if {"Fn::GetAtt": [table, "Arn"]} in resources:
            actions = statement["Action"]
            granted |= set(actions if isinstance(actions, list) else [actions])
    return granted


def test_who_reads_a_budgets_month_spend_may_query_the_table_itself(template_json: dict[str, Any]) -> None:
    """A month's spend is a Query of the endpoint's day aggregates, on the table (no index): the proxy
    (block budgets), the ingest (budget alerts) and the API (endpoint listings). (The rehearsal also
    refuses it locally without the grant: tests/rehearsal/test_rehearsal.py.)"""
    for name in ("proxy", "usage_ingest", "api"):
        assert "dynamodb:Query" in _table_actions(template_json, name), name
    # The proxy reads no item by batch any more (its month spend was a BatchGetItem of month items).
    assert "dynamodb:BatchGetItem" not in _table_actions(template_json, "proxy")


def _alerts_topic(template_json: dict[str, Any]) -> str:
    [topic] = [
        logical_id
        for logical_id, resource in template_json["Resources"].items()
        if resource["Type"] == "AWS::SNS::Topic"
        and resource["Properties"].get("DisplayName") == "Codecosts alerts"
    ]
    return topic


def test_only_the_functions_that_send_alerts_may_publish_and_only_to_the_alerts_topic(
    template_json: dict[str, Any],
) -> None:
    topic = _alerts_topic(template_json)
    publishers = set()
    for name, function in _functions(template_json).items():
        for statement in role_statements(template_json, function):
            if "sns:Publish" in statement["Action"]:
                assert statement["Action"] == "sns:Publish" and statement["Resource"] == {"Ref": topic}, name
                publishers.add(name)
    # Budgets after the ingest writes records; drift and unrecorded spend after a sync (daily or refresh).
    assert publishers == {"usage_ingest", "reconcile", "api"}


def test_the_functions_running_alerting_code_are_told_the_topic(template_json: dict[str, Any]) -> None:
    topic = _alerts_topic(template_json)
    told = {
        name
        for name, function in _functions(template_json).items()
        if function["Properties"]["Environment"]["Variables"].get("CODECOSTS_ALERTS_TOPIC_ARN")
        == {"Ref": topic}
    }
    assert told == {"usage_ingest", "reconcile", "api", "usage_export"}
