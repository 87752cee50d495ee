"""The management API: an HTTP API in front of the API function, `/api` and `/api/{proxy+}`."""

from __future__ import annotations

import json

import jsii
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.nag import acknowledge

# Stage-wide ceiling that protects the account and the table; the contract's per-client limit
# (600 requests / minute per IP) is enforced by the app itself, with counters in DynamoDB.
THROTTLE_RATE_PER_SECOND = 100
THROTTLE_BURST = 200

_ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class AccessLogSettings:
    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return apigateway.AccessLogFormat.custom(json.dumps(_ACCESS_LOG_FORMAT))


class ManagementApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: lambda_.IFunction,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            description="Codecosts management API",
            # The stage is made below, with throttling and access logs.
            create_default_stage=False,
        )
        integration = integrations.HttpLambdaIntegration("ApiFunction", handler)
        for path in ("/api", "/api/{proxy+}"):
            self.http_api.add_routes(path=path, methods=[apigwv2.HttpMethod.ANY], integration=integration)

        access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention)
        self.stage = self.http_api.add_stage(
            "DefaultStage",
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=THROTTLE_RATE_PER_SECOND, burst_limit=THROTTLE_BURST
            ),
            access_log_settings=AccessLogSettings(access_logs),
        )
        # The API's base URL: routes live under /api.
        self.url = f"{self.stage.url}api"

        acknowledge(
            self.http_api,
            "AwsSolutions-APIG4",
            "Authentication is the app's: a Clerk session JWT or an sk_ API key, verified in the API "
            "function (docs/API contract); /api/health is public by contract.",
        )
