"""The local stack rehearses the deployment: each function gets what the synthesized template gives it
in AWS (its grants, enforced; its environment, resolved) and nothing more, so a grant or a variable
the stack forgets breaks here first."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from devstack.rehearsal import (
    Rehearsal,
    RehearsalError,
    function_name,
    rehearse,
    role_statements,
)
from shared import aws as shared_aws
from shared.resources import ADMIN_KEY_KMS_ALIAS, BODIES_BUCKET, TABLE, USAGE_QUEUE
from shared.settings import get_settings
from shared.store.bill import AdminKeyStore
from shared.store.endpoints import EndpointStore
from tests.fakes.proxy_server import RunningProxy
from tests.proxy.test_budgets import BODY, MARCH_END, Clock, spend_this_month

ROOT = Path(__file__).resolve().parents[2]


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        function_name(resource): resource
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
    }


def without_grant(template: dict[str, Any], function: str, action: str) -> dict[str, Any]:
    """A copy of the template whose function role no longer grants `action`."""
    changed = copy.deepcopy(template)
    for statement in role_statements(changed, _functions(changed)[function]):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [granted for granted in actions if granted != action]
    return changed


def test_a_function_calling_an_action_its_role_lacks_is_denied(aws: Rehearsal) -> None:
    tenant_items = Key("pk").eq("TENANT#user_a")
    with shared_aws.running_as("usage_ingest"):
        # (It may query the indexes, for a session's latest call: a Scan it may not.)
        with pytest.raises(ClientError, match="not authorized to perform: dynamodb:Scan"):
            shared_aws.table(aws.table_name).scan()
        # A transaction is judged item by item, as AWS does: the ingest may put, never delete.
        item = {"TableName": aws.table_name, "Key": {"pk": "TENANT#user_a", "sk": "X"}}
        with pytest.raises(ClientError, match="not authorized to perform: dynamodb:DeleteItem"):
            shared_aws.dynamodb_client().transact_write_items(TransactItems=[{"Delete": item}])
        with pytest.raises(ClientError, match="not authorized to perform: sqs:SendMessage"):
            shared_aws.sqs().send_message(QueueUrl=aws.usage_queue_url, MessageBody="{}")
    with shared_aws.running_as("api"):
        assert shared_aws.table(aws.table_name).query(KeyConditionExpression=tenant_items)["Items"] == []
        shared_aws.dynamodb_client().transact_write_items(TransactItems=[{"Delete": item}])


def without_grant_on_the_table(template: dict[str, Any], function: str, action: str) -> dict[str, Any]:
    """A copy of the template whose function role no longer grants `action` on the table itself (its
    grants on the indexes stay)."""
    changed = copy.deepcopy(template)
    (table,) = (k for k, r in changed["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table")
    for statement in role_statements(changed, _functions(changed)[function]):
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        if {"Fn::GetAtt": [table, "Arn"]} in resources:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            statement["Action"] = [granted for granted in actions if granted != action]
    return changed


def test_a_dynamodb_grant_covers_only_the_table_or_index_it_names(
    aws: Rehearsal, moto_endpoint: str, stack_template: dict[str, Any]
) -> None:
    """As in AWS, a Query granted on the indexes does not reach the table, nor one on the table the
    indexes: a role scoped to the wrong one fails here first."""
    session = Key("gsi3pk").eq("TENANT#user_a#SESSION#s")
    tenant_items = Key("pk").eq("TENANT#user_a")
    rehearse(
        moto_endpoint, template=without_grant_on_the_table(stack_template, "usage_ingest", "dynamodb:Query")
    )
    with shared_aws.running_as("usage_ingest"):
        table = shared_aws.table(aws.table_name)
        assert table.query(IndexName="gsi3", KeyConditionExpression=session)["Items"] == []
        with pytest.raises(ClientError, match="not authorized to perform: dynamodb:Query"):
            table.query(KeyConditionExpression=tenant_items)
    # The proxy may query the table (a budget's month spend), not an index.
    with shared_aws.running_as("proxy"):
        table = shared_aws.table(aws.table_name)
        assert table.query(KeyConditionExpression=tenant_items)["Items"] == []
        with pytest.raises(ClientError, match="not authorized to perform: dynamodb:Query"):
            table.query(IndexName="gsi3", KeyConditionExpression=session)


def test_reads_in_worker_threads_are_signed_as_the_function_that_started_them(
    aws: Rehearsal, moto_endpoint: str, stack_template: dict[str, Any]
) -> None:
    """The API reads several endpoints' month spend at once in a thread pool: each read carries the
    API's credentials (not the operator's), so its role is what allows or refuses it."""
    from shared.store.usage_records import UsageStore

    store = UsageStore(aws.table_name, aws.bodies_bucket)
    with shared_aws.running_as("api"):
        assert store.month_spend("user_a", ["ep_1", "ep_2"], "2026-03") == {"ep_1": 0, "ep_2": 0}
    rehearse(moto_endpoint, template=without_grant_on_the_table(stack_template, "api", "dynamodb:Query"))
    with (
        shared_aws.running_as("api"),
        pytest.raises(ClientError, match="not authorized to perform: dynamodb:Query"),
    ):
        store.month_spend("user_a", ["ep_1", "ep_2"], "2026-03")


def test_admin_keys_are_sealed_with_the_stack_key_by_the_functions_granted_it(aws: Rehearsal) -> None:
    """The bill check's KMS key is made from the template and named to the functions by its local ARN;
    the API may seal and open admin keys, the reconcile function only open them, the ingest neither."""
    key_arn = aws.functions["api"].environment["CODECOSTS_ADMIN_KEY_KMS_KEY"]
    assert aws.functions["reconcile"].environment["CODECOSTS_ADMIN_KEY_KMS_KEY"] == key_arn
    assert shared_aws.kms().describe_key(KeyId=ADMIN_KEY_KMS_ALIAS)["KeyMetadata"]["Arn"] == key_arn
    admin_key = "sk-ant-admin01-rehearsal" + "0" * 40 + "-Rhrs"
    store = AdminKeyStore(aws.table_name, key_arn)
    with shared_aws.running_as("api"):
        store.put("user_a", admin_key)
        assert store.secret("user_a") == admin_key
    with shared_aws.running_as("reconcile"):
        assert store.secret("user_a") == admin_key
        with pytest.raises(ClientError, match="not authorized to perform: kms:Encrypt"):
            store.put("user_a", admin_key)
    with (
        shared_aws.running_as("usage_ingest"),
        pytest.raises(ClientError, match="not authorized to perform: kms:Encrypt"),
    ):
        shared_aws.kms().encrypt(KeyId=key_arn, Plaintext=b"x")


def test_a_block_budget_blocks_only_because_the_proxy_role_grants_query(
    aws: Rehearsal,
    moto_endpoint: str,
    stack_template: dict[str, Any],
    budgeted: Callable[..., tuple[RunningProxy, Clock]],
) -> None:
    """The month's spend is one Query of the endpoint's day aggregates. Without that grant the check
    fails with AccessDenied and lets every call through: here as in AWS."""
    headers = {"x-api-key": "sk-ant-api03-budget-test-0000Wxyz", "anthropic-version": "2023-06-01"}
    proxy, _ = budgeted("block", 100)
    spend_this_month(proxy.endpoint["id"], proxy.tenant_id, MARCH_END - timedelta(days=3), "150")
    assert httpx.post(f"{proxy.base_url}/v1/messages", json=BODY, headers=headers).status_code == 429

    rehearse(moto_endpoint, template=without_grant(stack_template, "proxy", "dynamodb:Query"))
    unguarded, _ = budgeted("block", 100)
    spend_this_month(unguarded.endpoint["id"], unguarded.tenant_id, MARCH_END - timedelta(days=3), "150")
    assert httpx.post(f"{unguarded.base_url}/v1/messages", json=BODY, headers=headers).status_code == 200


def test_each_function_gets_exactly_its_template_environment(
    aws: Rehearsal, moto_endpoint: str, stack_template: dict[str, Any]
) -> None:
    functions = _functions(stack_template)
    assert set(aws.functions) == set(functions)
    assert set(functions) == {"proxy", "api", "usage_export", "usage_ingest", "reconcile"}
    for name, resource in functions.items():
        variables = resource["Properties"]["Environment"]["Variables"]
        environment = aws.functions[name].environment
        assert environment.keys() == variables.keys(), name
        for variable, value in variables.items():
            if isinstance(value, str):
                assert environment[variable] == value, (name, variable)
    proxy = aws.functions["proxy"].environment
    assert proxy["CODECOSTS_USAGE_QUEUE_URL"] == aws.usage_queue_url
    assert proxy["CODECOSTS_TABLE_NAME"] == aws.table_name
    assert proxy["CODECOSTS_BODIES_BUCKET"] == aws.bodies_bucket
    # The API's `url` of a proxy endpoint: the proxy's function URL in AWS, the local base URL here.
    assert aws.functions["api"].environment["CODECOSTS_PUBLIC_URL"] == get_settings().base_url
    assert "CODECOSTS_USAGE_QUEUE_URL" not in aws.functions["api"].environment

    # A variable the stack forgets to pass is missing locally too.
    forgetful = copy.deepcopy(stack_template)
    del _functions(forgetful)["proxy"]["Properties"]["Environment"]["Variables"]["CODECOSTS_USAGE_QUEUE_URL"]
    assert (
        "CODECOSTS_USAGE_QUEUE_URL"
        not in rehearse(moto_endpoint, template=forgetful).functions["proxy"].environment
    )

    # One whose value has no local meaning fails loudly, naming it.
    unknown = copy.deepcopy(stack_template)
    _functions(unknown)["api"]["Properties"]["Environment"]["Variables"]["CLERK_ISSUER"] = {
        "Ref": "Elsewhere"
    }
    with pytest.raises(RehearsalError, match="CLERK_ISSUER"):
        rehearse(moto_endpoint, template=unknown)


def test_each_function_process_reads_the_server_secret_under_its_own_role(
    aws: Rehearsal, moto_endpoint: str
) -> None:
    """As in Lambda: only the ARN is in the environment; the value comes from Secrets Manager, signed
    with the function's own credentials. The ingest and the reconcile function are given neither."""
    read_secret = "from shared.settings import get_settings; print(get_settings().secret_bytes().decode())"
    for name, function in aws.functions.items():
        run = subprocess.run(
            [sys.executable, "-c", read_secret],
            env={**function.process_environment(moto_endpoint), "POWERTOOLS_TRACE_DISABLED": "true"},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if name in ("usage_ingest", "reconcile"):  # they read no secret, so they are not told of one
            assert "CODECOSTS_SERVER_SECRET_ARN" not in function.environment
            assert "is not set" in run.stderr
        else:
            assert run.stdout.strip() == os.environ["CODECOSTS_SERVER_SECRET"], (name, run.stderr)


def test_rehearsing_again_keeps_what_exists(
    aws: Rehearsal, moto_endpoint: str, stack_template: dict[str, Any]
) -> None:
    """`make dev` restarts on its saved state: nothing recorded is lost, identities stay valid."""
    created = EndpointStore(aws.table_name).create("user_a", "kept")
    assert rehearse(moto_endpoint, template=stack_template) == aws
    assert EndpointStore(aws.table_name).get("user_a", created["id"]) is not None


def test_resources_that_cloudformation_names_get_the_local_names(
    aws: Rehearsal, moto_endpoint: str, stack_template: dict[str, Any]
) -> None:
    """A stack that leaves the table's and queues' names to CloudFormation rehearses as one that fixes
    them: the local names are shared.resources'."""
    unnamed = copy.deepcopy(stack_template)
    for resource in unnamed["Resources"].values():
        for name in ("TableName", "QueueName", "BucketName", "Name"):
            resource.get("Properties", {}).pop(name, None)
    again = rehearse(moto_endpoint, template=unnamed)
    assert (again.table_name, again.bodies_bucket) == (TABLE.name, BODIES_BUCKET.name)
    assert again.usage_queue_url.endswith(f"/{USAGE_QUEUE.name}")
    assert again.dead_letter_queue_url.endswith(f"/{USAGE_QUEUE.dead_letter_name}")
