"""The alerts' SNS topic (email), and what the functions that send alerts need for it.

One topic for every tenant: each message carries a `tenant` attribute, and an email subscription
takes a filter policy on it (docs/operations.md). The ingest sends budget alerts after it writes
records; the reconcile function and the API's refresh send drift and unrecorded-spend alerts after a
bill sync. Each reads the tenant's alert settings and claims a marker per alert and channel (a
conditional put, marked failed when the send fails), and publishes to the topic.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

TOPIC_VARIABLE = "CODECOSTS_ALERTS_TOPIC_ARN"


class AlertsTopic(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.ITable,
        budget_checker: lambda_.Function,
        bill_checkers: Sequence[lambda_.Function],
        same_settings: Sequence[lambda_.Function] = (),
    ) -> None:
        """`same_settings`: functions running a sender's app that send nothing (told, not granted)."""
        super().__init__(scope, construct_id)
        # Encrypted at rest with the account's key for SNS: publishers in the account use it through SNS
        # without a grant of their own, and email delivery needs none.
        sns_key = kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns")
        self.topic = sns.Topic(
            self, "Topic", display_name="Codecosts alerts", master_key=sns_key, enforce_ssl=True
        )
        for function in same_settings:
            function.add_environment(TOPIC_VARIABLE, self.topic.topic_arn)
        for sender in (budget_checker, *bill_checkers):
            sender.add_environment(TOPIC_VARIABLE, self.topic.topic_arn)
            sender.add_to_role_policy(
                iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn])
            )
            # The alert settings (GetItem), the sent markers read at once (BatchGetItem), a marker
            # claimed (PutItem) or marked failed after a failed send (UpdateItem).
            actions = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
            sender.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=[table.table_arn]))
        # A budget check reads the month's spend: a Query of each budgeted endpoint's day aggregates.
        budget_checker.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[table.table_arn])
        )
