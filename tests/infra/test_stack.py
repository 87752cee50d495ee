"""What ops deploy: streaming where it must stream, least privilege, nothing lost, alarms that say so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Match, Template

from infra.constructs.functions import WEB_ADAPTER_LAYER_VERSION
from shared.resources import BODIES_BUCKET, INGEST_TIMEOUT_SECONDS, TABLE, USAGE_QUEUE

ROOT = Path(__file__).resolve().parents[2]


def _resources(template_json: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template_json["Resources"].items() if r["Type"] == kind}


def _function(template_json: dict[str, Any], service: str) -> tuple[str, dict[str, Any]]:
    """A function by its Powertools service name: codecosts-proxy, -api, -usage-export, -usage-ingest."""
    for name, resource in _resources(template_json, "AWS::Lambda::Function").items():
        if resource["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == service:
            return name, resource["Properties"]
    raise AssertionError(f"no function {service}")


def _statements_of(template_json: dict[str, Any], function_name: str) -> list[dict[str, Any]]:
    role = template_json["Resources"][function_name]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements: list[dict[str, Any]] = []
    for policy in _resources(template_json, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def _granted(statements: list[dict[str, Any]]) -> set[str]:
    return {action for statement in statements for action in _actions(statement)}


def test_proxy_streams_through_a_public_function_url(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Url", {"AuthType": "NONE", "InvokeMode": "RESPONSE_STREAM"}
    )


def test_proxy_runs_uvicorn_behind_the_web_adapter_layer(template_json: dict[str, Any]) -> None:
    _, proxy = _function(template_json, "codecosts-proxy")
    assert proxy["Runtime"] == "python3.13"
    assert proxy["Architectures"] == ["arm64"]
    assert proxy["Timeout"] == 15 * 60
    assert proxy["Layers"] == [
        {
            "Fn::Join": [
                "",
                [
                    "arn:aws:lambda:",
                    {"Ref": "AWS::Region"},
                    f":753240598075:layer:LambdaAdapterLayerArm64:{WEB_ADAPTER_LAYER_VERSION}",
                ],
            ]
        }
    ]
    env = proxy["Environment"]["Variables"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert env["PORT"] == "8000"
    assert env["CODECOSTS_UPSTREAM_URL"] == "https://api.anthropic.com"
    assert {"CODECOSTS_USAGE_QUEUE_URL", "CODECOSTS_TABLE_NAME", "CODECOSTS_BODIES_BUCKET"} <= set(env)


def test_no_function_carries_the_server_secret_value(template_json: dict[str, Any]) -> None:
    secret = next(iter(_resources(template_json, "AWS::SecretsManager::Secret")))
    for _, function in _resources(template_json, "AWS::Lambda::Function").items():
        env = function["Properties"]["Environment"]["Variables"]
        assert "CODECOSTS_SERVER_SECRET" not in env
        # The reconcile function needs no server secret, so it is not told where one is.
        assert env.get("CODECOSTS_SERVER_SECRET_ARN", {"Ref": secret}) == {"Ref": secret}


def test_every_function_is_traced_and_named_for_powertools(template_json: dict[str, Any]) -> None:
    functions = _resources(template_json, "AWS::Lambda::Function").values()
    assert len(functions) == 5
    for function in functions:
        properties = function["Properties"]
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["Architectures"] == ["arm64"]
        env = properties["Environment"]["Variables"]
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Codecosts"
        assert env["POWERTOOLS_SERVICE_NAME"].startswith("codecosts-")
    for log_group in _resources(template_json, "AWS::Logs::LogGroup").values():
        assert log_group["Properties"]["RetentionInDays"] > 0


def test_api_urls_point_at_the_proxy_function_url(template_json: dict[str, Any]) -> None:
    _, api = _function(template_json, "codecosts-api")
    public_url = json.dumps(api["Environment"]["Variables"]["CODECOSTS_PUBLIC_URL"])
    assert "FunctionUrl" in public_url
    assert json.dumps(template_json["Outputs"]["ProxyUrl"]["Value"]) == public_url


def _methods(template_json: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(resource path, HTTP method) -> the method's integration, for every method of the REST API."""
    resources = _resources(template_json, "AWS::ApiGateway::Resource")

    def path(resource: Any) -> str:
        if not isinstance(resource, dict) or "Ref" not in resource:
            return ""  # the root resource (Fn::GetAtt RootResourceId)
        properties = resources[resource["Ref"]]["Properties"]
        return f"{path(properties['ParentId'])}/{properties['PathPart']}"

    return {
        (path(m["Properties"]["ResourceId"]), m["Properties"]["HttpMethod"]): m["Properties"]["Integration"]
        for m in _resources(template_json, "AWS::ApiGateway::Method").values()
    }


def _target(integration: dict[str, Any]) -> str:
    return str(
        next(part for part in integration["Uri"]["Fn::Join"][1] if "Fn::GetAtt" in part)["Fn::GetAtt"][0]
    )


def test_api_routes_every_path_to_the_api_function_through_a_throttled_logged_stage(
    template: Template, template_json: dict[str, Any]
) -> None:
    api, _ = _function(template_json, "codecosts-api")
    methods = _methods(template_json)
    # API Gateway does not fall back to a parent's {proxy+}: every resource answers every method.
    for path in ("/api", "/api/{proxy+}", "/api/usage", "/api/usage/{proxy+}", "/api/usage/export.csv"):
        integration = methods[(path, "ANY")]
        assert integration["Type"] == "AWS_PROXY" and _target(integration) == api, path
        assert "ResponseTransferMode" not in integration  # buffered, as Mangum answers
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "MethodSettings": Match.array_with(
                [
                    Match.object_like(
                        {
                            "HttpMethod": "*",
                            "ResourcePath": "/*",
                            "ThrottlingRateLimit": Match.any_value(),
                            "ThrottlingBurstLimit": Match.any_value(),
                            "LoggingLevel": "ERROR",
                            "DataTraceEnabled": False,
                        }
                    )
                ]
            ),
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
            "TracingEnabled": True,
        },
    )
    # Access logs need the account's logging role; it carries no managed policy.
    (account,) = _resources(template_json, "AWS::ApiGateway::Account").values()
    role = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    assert "ManagedPolicyArns" not in template_json["Resources"][role]["Properties"]


def test_csv_export_streams_from_its_own_function_behind_the_web_adapter(
    template_json: dict[str, Any],
) -> None:
    export, properties = _function(template_json, "codecosts-usage-export")
    integration = _methods(template_json)[("/api/usage/export.csv", "GET")]
    assert integration["ResponseTransferMode"] == "STREAM"
    assert integration["Uri"]["Fn::Join"][1][-1] == "/response-streaming-invocations"
    assert _target(integration) == export
    # A streamed response may last 15 minutes: the integration and the function allow it.
    assert integration["TimeoutInMillis"] == 15 * 60 * 1000
    assert properties["Timeout"] == 15 * 60
    # The api bundle's run.sh (the same app under uvicorn), run by the adapter in streaming mode.
    assert properties["Handler"] == "run.sh"
    _, api = _function(template_json, "codecosts-api")
    assert properties["Code"] == api["Code"]
    env = properties["Environment"]["Variables"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert env["AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH"] == "true"
    # The API's settings, all of them: the same app answers.
    api_env = dict(api["Environment"]["Variables"])
    del api_env["POWERTOOLS_SERVICE_NAME"]
    assert api_env.items() <= env.items()
    _, proxy = _function(template_json, "codecosts-proxy")
    assert properties["Layers"] == proxy["Layers"]


def test_outputs_give_the_proxy_and_api_urls(template_json: dict[str, Any]) -> None:
    assert {"ProxyUrl", "ApiUrl"} <= set(template_json["Outputs"])


def test_ingest_reports_partial_batch_failures(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": Match.any_value(),
            "MaximumBatchingWindowInSeconds": Match.any_value(),
        },
    )


def test_failed_usage_messages_land_in_the_dead_letter_queue(template_json: dict[str, Any]) -> None:
    queues = _resources(template_json, "AWS::SQS::Queue")
    usage = next(q["Properties"] for q in queues.values() if q["Properties"]["QueueName"] == USAGE_QUEUE.name)
    dead_letter_name = next(
        name for name, q in queues.items() if q["Properties"]["QueueName"] == USAGE_QUEUE.dead_letter_name
    )
    assert usage["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dead_letter_name, "Arn"]},
        "maxReceiveCount": 5,
    }
    assert usage["VisibilityTimeout"] >= 6 * INGEST_TIMEOUT_SECONDS
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    _, ingest = _function(template_json, "codecosts-usage-ingest")
    assert ingest["Timeout"] == INGEST_TIMEOUT_SECONDS


def test_an_alarm_fires_when_the_dead_letter_queue_is_not_empty(template_json: dict[str, Any]) -> None:
    dead_letter_name = next(
        name
        for name, q in _resources(template_json, "AWS::SQS::Queue").items()
        if q["Properties"]["QueueName"] == USAGE_QUEUE.dead_letter_name
    )
    alarms = [a["Properties"] for a in _resources(template_json, "AWS::CloudWatch::Alarm").values()]
    dead_letter_alarms = [
        a
        for a in alarms
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and a["Dimensions"]
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letter_name, "QueueName"]}}]
    ]
    assert len(dead_letter_alarms) == 1
    alarm = dead_letter_alarms[0]
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["Threshold"] == 1
    assert alarm["AlarmActions"]


def test_alarms_cover_ingest_age_and_each_function_error_rate(template_json: dict[str, Any]) -> None:
    alarms = [a["Properties"] for a in _resources(template_json, "AWS::CloudWatch::Alarm").values()]
    assert any(a.get("MetricName") == "ApproximateAgeOfOldestMessage" for a in alarms)
    error_rates = [a for a in alarms if "Metrics" in a]
    functions = {json.dumps({"Ref": name}) for name in _resources(template_json, "AWS::Lambda::Function")}
    watched = {
        json.dumps(dimension["Value"])
        for alarm in error_rates
        for metric in alarm["Metrics"]
        if "MetricStat" in metric
        for dimension in metric["MetricStat"]["Metric"]["Dimensions"]
    }
    assert functions <= watched
    assert all(alarm["AlarmActions"] for alarm in alarms)


def test_table_is_defined_by_the_shared_definition(template_json: dict[str, Any]) -> None:
    (table,) = (t["Properties"] for t in _resources(template_json, "AWS::DynamoDB::Table").values())
    assert table["TableName"] == TABLE.name
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["TimeToLiveSpecification"] == {"AttributeName": TABLE.ttl_attribute, "Enabled": True}
    assert table["KeySchema"] == [
        {"AttributeName": TABLE.partition_key, "KeyType": "HASH"},
        {"AttributeName": TABLE.sort_key, "KeyType": "RANGE"},
    ]
    assert {index["IndexName"]: index["KeySchema"] for index in table["GlobalSecondaryIndexes"]} == {
        index.name: [
            {"AttributeName": index.partition_key, "KeyType": "HASH"},
            {"AttributeName": index.sort_key, "KeyType": "RANGE"},
        ]
        for index in TABLE.indexes
    }


def test_what_must_survive_is_retained(template_json: dict[str, Any]) -> None:
    for kind in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SecretsManager::Secret"):
        for resource in _resources(template_json, kind).values():
            assert resource["DeletionPolicy"] == "Retain", kind


def test_bodies_bucket_is_private_tls_only_and_expires_bodies(template_json: dict[str, Any]) -> None:
    (name, bucket) = next(iter(_resources(template_json, "AWS::S3::Bucket").items()))
    properties = bucket["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    (rule,) = properties["LifecycleConfiguration"]["Rules"]
    assert rule["Prefix"] == BODIES_BUCKET.bodies_prefix
    retention_days = json.loads((ROOT / "cdk.json").read_text())["context"]["bodyRetentionDays"]
    assert rule["ExpirationInDays"] == retention_days
    (policy,) = (
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in _resources(template_json, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": name}
    )
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy
    )


def test_roles_grant_named_actions_on_resource_arns_only(template_json: dict[str, Any]) -> None:
    for function_name in _resources(template_json, "AWS::Lambda::Function"):
        statements = _statements_of(template_json, function_name)
        assert statements
        for statement in statements:
            assert statement["Effect"] == "Allow"
            for action in _actions(statement):
                assert "*" not in action, action
            if statement["Resource"] == "*":
                # X-Ray has no resource-level permissions; nothing else may use "*".
                assert set(_actions(statement)) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
            else:
                assert "Resource" in statement and "*" not in json.dumps(statement["Resource"]).replace(
                    f"/{BODIES_BUCKET.bodies_prefix}*", ""
                )
    for role in _resources(template_json, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


def test_each_function_gets_only_what_it_uses(template_json: dict[str, Any]) -> None:
    logs_and_traces = {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    proxy, _ = _function(template_json, "codecosts-proxy")
    assert _granted(_statements_of(template_json, proxy)) - logs_and_traces == {
        "sqs:SendMessage",
        "s3:PutObject",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        # the usage record written straight to the table when the queue is down
        "dynamodb:PutItem",
        "dynamodb:ConditionCheckItem",
        "secretsmanager:GetSecretValue",
    }
    ingest, _ = _function(template_json, "codecosts-usage-ingest")
    assert _granted(_statements_of(template_json, ingest)) - logs_and_traces == {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:ConditionCheckItem",
        "s3:GetObject",
        "secretsmanager:GetSecretValue",
        # the event source's polling
        "sqs:ReceiveMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueUrl",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }
    export, _ = _function(template_json, "codecosts-usage-export")
    # Reads records; writes only what any authenticated request may (counters, a key's last use).
    assert _granted(_statements_of(template_json, export)) - logs_and_traces == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "secretsmanager:GetSecretValue",
    }
    api, _ = _function(template_json, "codecosts-api")
    api_statements = _statements_of(template_json, api)
    assert "s3:PutObject" not in _granted(api_statements)
    assert "sqs:SendMessage" not in _granted(api_statements)
    (index_query,) = (s for s in api_statements if _actions(s) == ["dynamodb:Query"])
    # Each resource is Fn::Join of the table's ARN and "/index/<name>": the named indexes, no wildcard.
    assert {arn["Fn::Join"][1][-1] for arn in index_query["Resource"]} == {
        f"/index/{index.name}" for index in TABLE.indexes
    }


def test_cdk_nag_aws_solutions_passes(synthesized: tuple[Any, Path]) -> None:
    # Synthesis fails on any unacknowledged finding; the report confirms none were left.
    _, outdir = synthesized
    report = json.loads((outdir / "validation-report.json").read_text())
    assert all(not plugin.get("violations") for plugin in report["pluginReports"])


def test_cfn_lint_is_clean(synthesized: tuple[Any, Path]) -> None:
    _, outdir = synthesized
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(outdir / "Codecosts.template.json")],
        cwd=ROOT,  # .cfnlintrc.yaml
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
