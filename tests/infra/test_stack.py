"""What ops deploy: streaming where it must stream, least privilege, nothing lost, alarms that say so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.constructs.functions import WEB_ADAPTER_LAYER_VERSION, Concurrency
from infra.stack import context_defaults
from shared.bodies.retention import ALLOWED_RETENTION_DAYS, LIFECYCLE_GRACE_DAYS, RETENTION_TAG
from shared.hosting import SNAPSTART_AFTER_RESTORE_PATH, SNAPSTART_BEFORE_CHECKPOINT_PATH
from shared.resources import BODIES_BUCKET, INGEST_TIMEOUT_SECONDS, TABLE
from tests.infra.conftest import CLERK_PUBLISHABLE_KEY

ROOT = Path(__file__).resolve().parents[2]


def _resources(template_json: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template_json["Resources"].items() if r["Type"] == kind}


def _function(template_json: dict[str, Any], service: str) -> tuple[str, dict[str, Any]]:
    """A function by its Powertools service name: codecosts-proxy, -api, -usage-export, -usage-ingest."""
    for name, resource in _resources(template_json, "AWS::Lambda::Function").items():
        if resource["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == service:
            return name, resource["Properties"]
    raise AssertionError(f"no function {service}")


def test_proxy_streams_through_a_public_function_url(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Url", {"AuthType": "NONE", "InvokeMode": "RESPONSE_STREAM"}
    )


def test_the_proxy_url_invokes_a_snapstart_version_whose_hooks_the_adapter_calls(
    template_json: dict[str, Any],
) -> None:
    name, proxy = _function(template_json, "codecosts-proxy")
    assert proxy["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    env = proxy["Environment"]["Variables"]
    assert env["AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH"] == SNAPSTART_BEFORE_CHECKPOINT_PATH
    assert env["AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"] == SNAPSTART_AFTER_RESTORE_PATH
    (alias,) = _resources(template_json, "AWS::Lambda::Alias").values()
    assert alias["Properties"]["FunctionName"] == {"Ref": name}
    version = alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
    assert template_json["Resources"][version]["Type"] == "AWS::Lambda::Version"
    (url,) = _resources(template_json, "AWS::Lambda::Url").values()
    assert url["Properties"]["TargetFunctionArn"] == {"Fn::GetAtt": [name, "Arn"]}
    assert url["Properties"]["Qualifier"] == alias["Properties"]["Name"]
    # The public grants name the alias: on the function alone, the alias's URL would answer 403.
    alias_id = next(k for k, r in template_json["Resources"].items() if r is alias)
    granted = {
        r["Properties"]["Action"]: r["Properties"]["FunctionName"]
        for r in _resources(template_json, "AWS::Lambda::Permission").values()
        if r["Properties"].get("Principal") == "*"
    }
    assert granted == {
        "lambda:InvokeFunctionUrl": {"Ref": alias_id},
        "lambda:InvokeFunction": {"Ref": alias_id},
    }
    # No other function has SnapStart: their cold starts are not on a caller's stream.
    snapped = [
        r
        for r in _resources(template_json, "AWS::Lambda::Function").values()
        if "SnapStart" in r["Properties"]
    ]
    assert len(snapped) == 1


def test_proxy_runs_uvicorn_behind_the_web_adapter_layer(template_json: dict[str, Any]) -> None:
    _, proxy = _function(template_json, "codecosts-proxy")
    assert proxy["Runtime"] == "python3.13"
    assert proxy["Architectures"] == ["arm64"]
    assert proxy["Timeout"] == 15 * 60
    # Billed for every second of every stream: the smallest size its measured peak RSS fits in.
    assert proxy["MemorySize"] == 160
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
        # Only its ARN, and only to the functions that read it (the ingest and the reconcile do not).
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


def test_the_dashboard_is_served_by_the_api_function_at_the_stage_root(template_json: dict[str, Any]) -> None:
    api, _ = _function(template_json, "codecosts-api")
    methods = _methods(template_json)
    # The page at `<stage URL>/`, its client routes and assets below it.
    for path in ("", "/{proxy+}"):
        integration = methods[(path, "ANY")]
        assert integration["Type"] == "AWS_PROXY" and _target(integration) == api, path
    # Mangum base64-encodes what is not text; API Gateway decodes it whatever the browser's Accept.
    (rest_api,) = _resources(template_json, "AWS::ApiGateway::RestApi").values()
    assert rest_api["Properties"]["BinaryMediaTypes"] == ["*/*"]
    dashboard_url = template_json["Outputs"]["DashboardUrl"]["Value"]["Fn::Join"][1]
    (stage_name, stage) = next(iter(_resources(template_json, "AWS::ApiGateway::Stage").items()))
    assert stage["Properties"]["StageName"] == "v1"
    assert dashboard_url[0] == "https://" and dashboard_url[-2:] == [{"Ref": stage_name}, "/"]
    assert dashboard_url[1] == {"Ref": next(iter(_resources(template_json, "AWS::ApiGateway::RestApi")))}


def test_the_clerk_publishable_key_from_context_reaches_the_page_serving_functions(
    template_json: dict[str, Any],
) -> None:
    for service in ("codecosts-api", "codecosts-usage-export"):
        _, function = _function(template_json, service)
        assert function["Environment"]["Variables"]["CLERK_PUBLISHABLE_KEY"] == CLERK_PUBLISHABLE_KEY
    for service in ("codecosts-proxy", "codecosts-usage-ingest"):
        _, function = _function(template_json, service)
        assert "CLERK_PUBLISHABLE_KEY" not in function["Environment"]["Variables"]


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


def test_a_deploy_updates_the_ingest_before_the_proxy(template_json: dict[str, Any]) -> None:
    proxy_id, _ = _function(template_json, "codecosts-proxy")
    ingest_id, _ = _function(template_json, "codecosts-usage-ingest")
    assert ingest_id in template_json["Resources"][proxy_id].get("DependsOn", [])


def _dead_letter_queue(template_json: dict[str, Any]) -> str:
    """The logical id of the queue that another queue's redrive policy points at."""
    (target,) = (
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in _resources(template_json, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    )
    return str(target)


def test_failed_usage_messages_land_in_the_dead_letter_queue(template_json: dict[str, Any]) -> None:
    queues = _resources(template_json, "AWS::SQS::Queue")
    usage = next(q["Properties"] for q in queues.values() if "RedrivePolicy" in q["Properties"])
    dead_letter_name = _dead_letter_queue(template_json)
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
    dead_letter_name = _dead_letter_queue(template_json)
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


def test_what_must_survive_is_retained_once_created(template_json: dict[str, Any]) -> None:
    # Kept on stack deletion and on replacement; deleted only by the rollback of their own creation,
    # so a failed first deploy leaves nothing behind that the retry would collide with.
    for kind in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SecretsManager::Secret"):
        for resource in _resources(template_json, kind).values():
            assert resource["DeletionPolicy"] == "RetainExceptOnCreate", kind
            assert resource["UpdateReplacePolicy"] == "Retain", kind
    (table,) = _resources(template_json, "AWS::DynamoDB::Table").values()
    assert table["Properties"]["DeletionProtectionEnabled"] is True


def test_a_rolled_back_first_deploy_leaves_only_its_logs_and_the_account_logging_role(
    template_json: dict[str, Any],
) -> None:
    # Logs say why the deploy failed; API Gateway's logging role is the account's, not the stack's.
    retained = {r["Type"] for r in template_json["Resources"].values() if r.get("DeletionPolicy") == "Retain"}
    assert retained == {"AWS::Logs::LogGroup", "AWS::IAM::Role", "AWS::ApiGateway::Account"}


def test_a_retried_deploy_never_collides_with_a_leftover_name(template_json: dict[str, Any]) -> None:
    # Names fixed in the template would be taken by what a failed first deploy left behind (or, for
    # a queue, refused for 60 s after its deletion): CloudFormation names them all.
    named = {
        "AWS::DynamoDB::Table": "TableName",
        "AWS::SQS::Queue": "QueueName",
        "AWS::S3::Bucket": "BucketName",
        "AWS::SecretsManager::Secret": "Name",
        "AWS::Lambda::Function": "FunctionName",
        "AWS::IAM::Role": "RoleName",
        "AWS::Logs::LogGroup": "LogGroupName",
        "AWS::SNS::Topic": "TopicName",
        "AWS::CloudWatch::Alarm": "AlarmName",
    }
    for kind, name in named.items():
        for logical_id, resource in _resources(template_json, kind).items():
            assert name not in resource["Properties"], logical_id


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
    rules = properties["LifecycleConfiguration"]["Rules"]
    assert all(
        rule["Prefix"] == BODIES_BUCKET.bodies_prefix and rule["Status"] == "Enabled" for rule in rules
    )
    # Every retention an endpoint may choose has its rule, on the tag each body object carries.
    by_tag = {
        int(rule["TagFilters"][0]["Value"]): rule["ExpirationInDays"]
        for rule in rules
        if rule.get("TagFilters") and rule["TagFilters"][0]["Key"] == RETENTION_TAG
    }
    assert by_tag == {days: days + LIFECYCLE_GRACE_DAYS for days in ALLOWED_RETENTION_DAYS if days}
    # and an object without a tag still goes after the longest.
    (catch_all,) = (rule for rule in rules if not rule.get("TagFilters"))
    assert catch_all["ExpirationInDays"] == max(ALLOWED_RETENTION_DAYS) + LIFECYCLE_GRACE_DAYS
    (policy,) = (
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in _resources(template_json, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": name}
    )
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy
    )


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


def test_api_gateway_account_waits_for_its_logging_role_policy(template_json: dict[str, Any]) -> None:
    # API Gateway refuses a logging role whose permissions are not attached yet: the role's policy is
    # a resource of its own, created after the role.
    (account,) = _resources(template_json, "AWS::ApiGateway::Account").values()
    role = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    (policy,) = (
        name
        for name, policy in _resources(template_json, "AWS::IAM::Policy").items()
        if {"Ref": role} in policy["Properties"]["Roles"]
    )
    assert policy in account.get("DependsOn", [])


def _watched(alarm: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(namespace, metric name, dimensions) of every metric an alarm reads, a math expression's too."""
    if "MetricName" in alarm:
        return [(alarm["Namespace"], alarm["MetricName"], alarm.get("Dimensions", []))]
    return [
        (
            m["MetricStat"]["Metric"]["Namespace"],
            m["MetricStat"]["Metric"]["MetricName"],
            m["MetricStat"]["Metric"].get("Dimensions", []),
        )
        for m in alarm["Metrics"]
        if "MetricStat" in m
    ]


def _alarms_on(template_json: dict[str, Any], metric_name: str) -> list[dict[str, Any]]:
    return [
        a["Properties"]
        for a in _resources(template_json, "AWS::CloudWatch::Alarm").values()
        if any(name == metric_name for _, name, _ in _watched(a["Properties"]))
    ]


def test_alarms_watch_failures_where_clients_see_them(template_json: dict[str, Any]) -> None:
    # Mangum and the Web Adapter answer 500 on invocations Lambda counts as successful.
    proxy, _ = _function(template_json, "codecosts-proxy")
    (url_5xx,) = _alarms_on(template_json, "Url5xxCount")
    assert ("AWS/Lambda", "Url5xxCount", [{"Name": "FunctionName", "Value": {"Ref": proxy}}]) in _watched(
        url_5xx
    )
    (api_5xx,) = _alarms_on(template_json, "5XXError")
    (_, _, dimensions), *_ = (w for w in _watched(api_5xx) if w[1] == "5XXError")
    assert {d["Name"] for d in dimensions} == {"ApiName", "Stage"}
    # Refused invocations: each function's throttles, and the account's concurrency near its limit.
    throttled = {
        json.dumps(dimensions[0]["Value"])
        for alarm in _alarms_on(template_json, "Throttles")
        for _, _, dimensions in _watched(alarm)
    }
    assert throttled == {
        json.dumps({"Ref": name}) for name in _resources(template_json, "AWS::Lambda::Function")
    }
    (concurrency,) = _alarms_on(template_json, "ConcurrentExecutions")
    assert "Dimensions" not in concurrency  # the account's, all functions together
    assert concurrency["Threshold"] == 800
    (table_throttles,) = _alarms_on(template_json, "WriteThrottleEvents")
    assert {name for _, name, _ in _watched(table_throttles)} == {"ReadThrottleEvents", "WriteThrottleEvents"}
    for alarm in _resources(template_json, "AWS::CloudWatch::Alarm").values():
        assert (
            alarm["Properties"]["AlarmActions"] and alarm["Properties"]["TreatMissingData"] == "notBreaching"
        )


def test_alarms_watch_the_metrics_the_code_emits_on_exactly_their_dimensions(
    template_json: dict[str, Any],
) -> None:
    services = {
        name: props["Environment"]["Variables"]
        for name, props in (
            (name, r["Properties"]) for name, r in _resources(template_json, "AWS::Lambda::Function").items()
        )
    }
    emitted = {
        env["POWERTOOLS_SERVICE_NAME"]: env["POWERTOOLS_METRICS_NAMESPACE"] for env in services.values()
    }
    source = "\n".join(
        path.read_text() for folder in ("functions", "shared") for path in (ROOT / folder).rglob("*.py")
    )
    expected = {
        "UsagePublishFailures": {"codecosts-proxy"},
        "UsageQueueFallbacks": {"codecosts-proxy"},
        "RateLimiterFailOpen": {"codecosts-proxy", "codecosts-api", "codecosts-usage-export"},
        "IngestRejected": {"codecosts-usage-ingest"},
    }
    for metric, emitters in expected.items():
        assert f'"{metric}"' in source, f"the code no longer emits {metric}"
        (alarm,) = _alarms_on(template_json, metric)
        watched = _watched(alarm)
        # Powertools adds one dimension, `service`; the alarm reads each emitter's series as emitted.
        assert {namespace for namespace, _, _ in watched} == {emitted[s] for s in emitters}
        assert {json.dumps(dimensions) for _, _, dimensions in watched} == {
            json.dumps([{"Name": "service", "Value": service}]) for service in emitters
        }
        assert alarm["Threshold"] == 1


def test_one_dashboard_shows_every_alarm(template_json: dict[str, Any]) -> None:
    (dashboard,) = _resources(template_json, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for name in _resources(template_json, "AWS::CloudWatch::Alarm"):
        assert json.dumps({"Fn::GetAtt": [name, "Arn"]}) in body, name


def test_a_flood_on_the_proxy_cannot_take_the_api_and_ingest_concurrency(
    template_json: dict[str, Any],
) -> None:
    context = context_defaults()
    reserved = {
        service: _function(template_json, service)[1]["ReservedConcurrentExecutions"]
        for service in (
            "codecosts-proxy",
            "codecosts-api",
            "codecosts-usage-export",
            "codecosts-usage-ingest",
        )
    }
    assert reserved == {
        "codecosts-proxy": context["proxyMaxConcurrency"],
        "codecosts-api": context["apiReservedConcurrency"],
        "codecosts-usage-export": context["exportMaxConcurrency"],
        "codecosts-usage-ingest": context["ingestReservedConcurrency"],
    }
    # Deployable on an account at the default limit: Lambda keeps 100 unreserved.
    assert sum(reserved.values()) <= context["accountConcurrencyLimit"] - 100
    (source,) = (
        m["Properties"] for m in _resources(template_json, "AWS::Lambda::EventSourceMapping").values()
    )
    assert reserved["codecosts-usage-ingest"] >= source["ScalingConfig"]["MaximumConcurrency"]


def test_reservations_lambda_would_refuse_fail_at_synth() -> None:
    with pytest.raises(ValueError, match="unreserved"):
        Concurrency(proxy=850, api=50, export=10, ingest=10).check(1000)
    with pytest.raises(ValueError, match="ingestReservedConcurrency"):
        Concurrency(proxy=None, api=None, export=None, ingest=2).check(1000)
    Concurrency(proxy=None, api=None, export=None, ingest=None).check(10)


def test_the_queues_take_a_usage_message_with_its_bodies_inline(template_json: dict[str, Any]) -> None:
    # CreateQueue's default is 256 KiB: a message the proxy sends inline must fit what the queue says.
    from functions.proxy.publisher import MESSAGE_OVERHEAD
    from shared.settings import Settings

    queues = _resources(template_json, "AWS::SQS::Queue")
    assert len(queues) == 2
    for queue in queues.values():
        assert queue["Properties"]["MaximumMessageSize"] >= Settings().inline_body_limit + MESSAGE_OVERHEAD
