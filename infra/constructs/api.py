"""The management API: a regional REST API in front of two functions running the same FastAPI app.

- `/`, `/{proxy+}`: the API function (Mangum), buffered: the dashboard's page at `<stage URL>/` and
  every client route, and its assets. The app learns the stage prefix from the event
  (functions/api/handler.py) and the page resolves its assets and API calls against it.
- `/api` and `/api/{proxy+}`: the API function, buffered: every JSON route.
- `GET /api/usage/export.csv`: the export function (the app under uvicorn behind the Lambda Web
  Adapter), with the integration's response transfer mode STREAM: rows reach the client as they are
  read, past API Gateway's 29 s and 10 MB and Lambda's 6 MB buffered limits. Response streaming is a
  REST API feature (HTTP APIs buffer), hence a REST API for the whole management API: one host, one
  set of credentials, whatever the route.

API Gateway matches the most specific resource and does not fall back to a parent's `{proxy+}`, so
`/api/usage` and `/api/usage/{proxy+}` are routed to the API function explicitly, as are the other
methods of `/api/usage/export.csv` (the app answers them 405).

Mangum base64-encodes every body that is not text (the dashboard's icon, say); API Gateway decodes
it only for media types listed as binary, matched against the request's first `Accept` type, which a
browser does not let the page choose: hence `*/*` (Mangum's text bodies are passed as they are, and
request bodies reach Mangum base64-encoded, which it decodes). Streamed responses are never converted.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.nag import acknowledge

STAGE_NAME = "v1"
# Stage-wide ceiling that protects the account and the table; the contract's per-client limit
# (600 requests / minute per IP) is enforced by the app itself, with counters in DynamoDB.
THROTTLE_RATE_PER_SECOND = 100
THROTTLE_BURST = 200
# A streamed response may last up to 15 minutes; the export function's timeout matches.
EXPORT_TIMEOUT = Duration.minutes(15)

_ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "method": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integration.latency",
    "integrationError": "$context.integration.error",
}


class ManagementApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: lambda_.IFunction,
        export_handler: lambda_.IFunction,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention)
        self.rest_api = apigateway.RestApi(
            self,
            "RestApi",
            # The ApiName dimension of its metrics (constructs/monitoring.py): one per stack.
            rest_api_name=f"{Stack.of(self).stack_name}-api",
            description="Codecosts management API",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            binary_media_types=["*/*"],
            # Access logs need the account's API Gateway logging role: made below, without the
            # managed policy CDK's own role would carry.
            cloud_watch_role=False,
            deploy_options=apigateway.StageOptions(
                stage_name=STAGE_NAME,
                throttling_rate_limit=THROTTLE_RATE_PER_SECOND,
                throttling_burst_limit=THROTTLE_BURST,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.custom(json.dumps(_ACCESS_LOG_FORMAT)),
                # Execution logs for errors only: INFO would log request and response metadata.
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                tracing_enabled=True,
            ),
        )
        self._logging_role()

        buffered = apigateway.LambdaIntegration(handler)
        streamed = apigateway.LambdaIntegration(
            export_handler,
            response_transfer_mode=apigateway.ResponseTransferMode.STREAM,
            timeout=EXPORT_TIMEOUT,
        )
        # The dashboard: its page, client routes and assets, at the stage's root.
        self.rest_api.root.add_method("ANY", buffered)
        self.rest_api.root.add_proxy(default_integration=buffered, any_method=True)
        api = self.rest_api.root.add_resource("api")
        api.add_method("ANY", buffered)
        api.add_proxy(default_integration=buffered, any_method=True)
        usage = api.add_resource("usage")
        usage.add_method("ANY", buffered)
        usage.add_proxy(default_integration=buffered, any_method=True)
        export = usage.add_resource("export.csv")
        export.add_method("GET", streamed)
        export.add_method("ANY", buffered)

        # The API's base URL: routes live under /api; the dashboard is at the stage's root.
        self.url = f"{self.rest_api.url}api"
        self.dashboard_url = self.rest_api.url

        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG4",
            "Authentication is the app's: a Clerk session JWT or an sk_ API key, verified in the API "
            "functions (docs/API contract); /api/health is public by contract.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-COG4",
            "Users sign in with Clerk, not Cognito; the app verifies Clerk's JWTs and its own API keys.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG2",
            "Every route is a Lambda proxy: the FastAPI app validates each request against its schema "
            "and answers the contract's 400 with details, which API Gateway's validator cannot.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG3",
            "No WAF by default: per-IP limits are the app's (600/min in DynamoDB) and the stage is "
            "throttled; ops can associate a web ACL with the stage without changing the app.",
        )

    def _logging_role(self) -> None:
        """API Gateway writes REST APIs' logs with one role per account and region
        (AWS::ApiGateway::Account). Kept on stack deletion: other APIs may log through it by then."""
        role = iam.Role(
            self,
            "LoggingRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="API Gateway's account-wide role for writing CloudWatch logs",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:DescribeLogGroups",
                    "logs:DescribeLogStreams",
                    "logs:PutLogEvents",
                    "logs:GetLogEvents",
                    "logs:FilterLogEvents",
                ],
                resources=["*"],
            )
        )
        role.apply_removal_policy(RemovalPolicy.RETAIN)
        account = apigateway.CfnAccount(self, "Account", cloud_watch_role_arn=role.role_arn)
        account.apply_removal_policy(RemovalPolicy.RETAIN)
        # The role's statements are a separate AWS::IAM::Policy: API Gateway checks them when the
        # Account resource is set, and refuses a role whose policy is not attached yet ("The role ARN
        # does not have required permissions"), so the Account waits for the policy, not only the role.
        account.node.add_dependency(role)
        # The stage may only enable logging once the account has the role.
        self.rest_api.deployment_stage.node.add_dependency(account)
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "API Gateway's account logging role writes the execution and access logs of every REST API "
            "of the account and region, whose log groups API Gateway names itself: AWS documents '*'.",
        )
