"""Alarms that say when something is lost or late, published to one encrypted SNS topic."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.constructs.messaging import Messaging

ERROR_RATE_PERCENT = 5
# Usage normally lands within seconds; five minutes of backlog means the ingest is failing or stuck.
INGEST_AGE_SECONDS = 300


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: dict[str, lambda_.Function],
        messaging: Messaging,
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        # CloudWatch can publish to an encrypted topic only with a customer managed key it may use.
        key = kms.Key(self, "AlarmTopicKey", enable_key_rotation=True, description="Codecosts alarm topic")
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        notify = actions.SnsAction(self.topic)

        for name, function in functions.items():
            rate = cloudwatch.MathExpression(
                label=f"{name} error rate (%)",
                expression="IF(invocations > 0, 100 * errors / invocations, 0)",
                using_metrics={
                    "errors": function.metric_errors(statistic="Sum"),
                    "invocations": function.metric_invocations(statistic="Sum"),
                },
                period=Duration.minutes(5),
            )
            alarm = rate.create_alarm(
                self,
                f"{name}ErrorRate",
                alarm_description=f"More than {ERROR_RATE_PERCENT}% of {name} invocations fail",
                threshold=ERROR_RATE_PERCENT,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(notify)

        ingest_age = messaging.usage_queue.metric_approximate_age_of_oldest_message(
            period=Duration.minutes(1), statistic="Maximum"
        ).create_alarm(
            self,
            "IngestAge",
            alarm_description=f"Usage messages wait more than {INGEST_AGE_SECONDS} s to be ingested",
            threshold=INGEST_AGE_SECONDS,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=5,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        ingest_age.add_alarm_action(notify)

        self.dead_letters = messaging.dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(1), statistic="Maximum"
        ).create_alarm(
            self,
            "DeadLetters",
            alarm_description="Usage messages failed 5 times and wait in the dead-letter queue: "
            "see docs/deploy.md to inspect and redrive them",
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.dead_letters.add_alarm_action(notify)
