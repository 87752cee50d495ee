"""The bill check's own resources: the KMS key that encrypts tenants' Anthropic admin keys, and the
reconcile function that EventBridge Scheduler runs daily to sync every tenant's Anthropic reports.

The API function gets what its bill-check routes call: encrypt (an admin key set) and decrypt (a
refresh), and batch writes (a refresh stores the synced reports).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from constructs import Construct

from infra.constructs.functions import FunctionSpec, codecosts_function
from infra.constructs.storage import Storage
from infra.nag import acknowledge
from shared.resources import ADMIN_KEY_KMS_ALIAS, RECONCILE_AT_UTC

# A month of reports for every tenant, one Admin API page each: minutes at most, even for many tenants.
RECONCILE_TIMEOUT = Duration.minutes(10)


class BillCheck(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: Storage,
        api: lambda_.Function,
        export: lambda_.Function,
        bundle_dir: Path,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "AdminKeyKey",
            alias=ADMIN_KEY_KMS_ALIAS,
            description="Codecosts: encrypts tenants' Anthropic admin keys",
            enable_key_rotation=True,
            # Without it the stored admin keys cannot be read: it outlives the stack, as the table does
            # (and, as the table, goes with the rollback of a failed first deploy).
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        table_arn = storage.table.table_arn
        # Both functions are told the key's ARN (the local stack, rehearsing the template, its local one).
        key_variable = ("CODECOSTS_ADMIN_KEY_KMS_KEY", self.key.key_arn)
        settings = {
            "CODECOSTS_TABLE_NAME": storage.table.table_name,
            "CODECOSTS_BODIES_BUCKET": storage.bodies_bucket.bucket_name,
            key_variable[0]: key_variable[1],
        }

        for app in (api, export):  # the export runs the API's app: the same settings
            app.add_environment(*key_variable)
        api.add_to_role_policy(
            iam.PolicyStatement(actions=["kms:Encrypt", "kms:Decrypt"], resources=[self.key.key_arn])
        )
        api.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:BatchWriteItem"], resources=[table_arn])
        )

        self.function = codecosts_function(
            self,
            FunctionSpec(
                name="reconcile",
                handler="functions.reconcile.handler.handler",
                description="Codecosts bill check: syncs each tenant's Anthropic usage and cost reports",
                timeout=RECONCILE_TIMEOUT,
                memory_size=512,
                environment=settings,
                statements=[
                    # The admin key and sync state (Get), the synced reports (BatchWriteItem puts and
                    # deletes), the sync state (Put) or a failure noted (Update), the records and
                    # reports of a tenant (Query).
                    iam.PolicyStatement(
                        actions=[
                            "dynamodb:GetItem",
                            "dynamodb:PutItem",
                            "dynamodb:UpdateItem",
                            "dynamodb:BatchWriteItem",
                            "dynamodb:Query",
                        ],
                        resources=[table_arn],
                    ),
                    # The tenants with an admin key: a sparse list on gsi1.
                    iam.PolicyStatement(actions=["dynamodb:Query"], resources=[f"{table_arn}/index/gsi1"]),
                    iam.PolicyStatement(actions=["kms:Decrypt"], resources=[self.key.key_arn]),
                ],
            ),
            bundle_dir,
        )
        # Its own role, so the one finding below is about this role only.
        invoker = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
            description="EventBridge Scheduler: runs the Codecosts reconcile function",
        )
        self.schedule = scheduler.Schedule(
            self,
            "Daily",
            description="Codecosts bill check: sync every tenant's Anthropic reports",
            schedule=scheduler.ScheduleExpression.cron(
                minute=str(RECONCILE_AT_UTC[1]), hour=str(RECONCILE_AT_UTC[0]), time_zone=TimeZone.ETC_UTC
            ),
            target=targets.LambdaInvoke(self.function, role=invoker, retry_attempts=2),
        )
        function_id = Stack.of(self).get_logical_id(self.function.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            invoker,
            f"AwsSolutions-IAM5[Resource::<{function_id}.Arn>:*]",
            "CDK's grantInvoke covers the function and its versions (`<arn>:*`): this one function only.",
        )
