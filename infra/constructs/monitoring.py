"""Alarms that say when something is lost, late or refused, published to one encrypted SNS topic, and
one CloudWatch dashboard that shows them all. docs/operations.md says what each means and what to do.

A function's `Errors` stay at zero when the Web Adapter or Mangum turns an exception into a 500: the
invocation itself succeeded. So the failures are watched where clients see them (the function URL's
`Url5xxCount`, API Gateway's `5XXError`) and where the code counts them (its EMF metrics, in the
`Codecosts` namespace with exactly one dimension, `service`: shared/observability.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.constructs.functions import METRICS_NAMESPACE, Functions, service_name
from infra.constructs.messaging import Messaging

ERROR_RATE_PERCENT = 5
# Usage normally lands within seconds; five minutes of backlog means the ingest is failing or stuck.
INGEST_AGE_SECONDS = 300
# Lambda refuses new invocations in the whole account at its concurrency limit: warn well before.
ACCOUNT_CONCURRENCY_PERCENT = 80
PERIOD = Duration.minutes(5)


@dataclass(frozen=True)
class CountedFailure:
    """An EMF metric the code counts when something goes wrong, and the functions that count it."""

    metric: str
    functions: tuple[str, ...]  # FunctionSpec names: their Powertools service is the metric's dimension
    description: str


COUNTED_FAILURES = (
    CountedFailure(
        "UsagePublishFailures",
        ("proxy",),
        "Usage lost: a call's record reached neither the queue nor the table",
    ),
    CountedFailure(
        "UsageQueueFallbacks",
        ("proxy",),
        "The usage queue refused records: the proxy wrote them straight to the table",
    ),
    CountedFailure(
        "UsageBodyStoreFailures",
        ("proxy",),
        "Request/response bodies could not be stored in S3: the records were kept without them",
    ),
    CountedFailure(
        "RateLimiterFailOpen",
        ("proxy", "api", "usage_export"),
        "The rate-limit counters were unreachable: requests were served without a limit",
    ),
    CountedFailure(
        "IngestRejected",
        ("usage_ingest",),
        "The ingest rejected usage messages it cannot read: they will land in the dead-letter queue",
    ),
)


def counted(failure: CountedFailure) -> cloudwatch.IMetric:
    """The failure's count over all the functions that emit it, on exactly the dimensions they emit."""
    per_function = {
        f"f{index}": cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=failure.metric,
            dimensions_map={"service": service_name(function)},
            statistic="Sum",
            period=PERIOD,
        )
        for index, function in enumerate(failure.functions)
    }
    if len(per_function) == 1:
        return next(iter(per_function.values()))
    return cloudwatch.MathExpression(
        label=failure.metric,
        expression=" + ".join(f"FILL({name}, 0)" for name in per_function),
        using_metrics=per_function,
        period=PERIOD,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Functions,
        reconcile: lambda_.Function,
        messaging: Messaging,
        table: dynamodb.Table,
        api_stage: apigateway.Stage,
        account_concurrency_limit: int,
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        # CloudWatch can publish to an encrypted topic only with a customer managed key it may use.
        # It encrypts alarm messages in transit through the topic, nothing kept: it goes with the stack
        # (and with a failed first deploy's rollback), after KMS's waiting period.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            enable_key_rotation=True,
            description="Codecosts alarm topic",
            removal_policy=RemovalPolicy.DESTROY,
        )
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self._notify = actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []

        by_name = {
            "Proxy": functions.proxy,
            "Api": functions.api,
            "Export": functions.export,
            "Ingest": functions.ingest,
            "Reconcile": reconcile,
        }
        for name, function in by_name.items():
            self._rate_alarm(
                f"{name}ErrorRate",
                f"More than {ERROR_RATE_PERCENT}% of {name} invocations fail",
                failures=function.metric_errors(statistic="Sum", period=PERIOD),
                total=function.metric_invocations(statistic="Sum", period=PERIOD),
            )
            self._count_alarm(
                f"{name}Throttles",
                f"Lambda refused {name} invocations: its reserved concurrency or the account's is used up",
                function.metric_throttles(statistic="Sum", period=PERIOD),
            )

        # What clients of the proxy see: 5xx from the function URL, the adapter's 500s included. The
        # FunctionName dimension alone sums the URLs of the function and of its aliases (SnapStart's).
        self._rate_alarm(
            "ProxyUrl5xxRate",
            f"More than {ERROR_RATE_PERCENT}% of proxy calls answered 5xx (the proxy's own or Anthropic's)",
            failures=functions.proxy.metric("Url5xxCount", statistic="Sum", period=PERIOD),
            total=functions.proxy.metric("UrlRequestCount", statistic="Sum", period=PERIOD),
        )
        # What clients of the management API and the dashboard see, Mangum's 500s included.
        self._rate_alarm(
            "Api5xxRate",
            f"More than {ERROR_RATE_PERCENT}% of management API requests answered 5xx",
            failures=api_stage.metric_server_error(statistic="Sum", period=PERIOD),
            total=api_stage.metric_count(statistic="Sum", period=PERIOD),
        )
        self._threshold_alarm(
            "AccountConcurrency",
            f"Lambda concurrency above {ACCOUNT_CONCURRENCY_PERCENT}% of the account's "
            f"{account_concurrency_limit}: every function of the account is about to be throttled",
            lambda_.Function.metric_all_concurrent_executions(
                statistic="Maximum", period=Duration.minutes(1)
            ),
            threshold=account_concurrency_limit * ACCOUNT_CONCURRENCY_PERCENT // 100,
            evaluation_periods=5,
            datapoints_to_alarm=3,
        )
        self._count_alarm(
            "TableThrottles",
            "DynamoDB throttled reads or writes of the table: usage, limits and the API slow down or fail",
            cloudwatch.MathExpression(
                label="Throttle events",
                expression="FILL(reads, 0) + FILL(writes, 0)",
                using_metrics={
                    "reads": table.metric("ReadThrottleEvents", statistic="Sum", period=PERIOD),
                    "writes": table.metric("WriteThrottleEvents", statistic="Sum", period=PERIOD),
                },
                period=PERIOD,
            ),
        )
        for failure in COUNTED_FAILURES:
            self._count_alarm(failure.metric, failure.description, counted(failure))

        self._threshold_alarm(
            "IngestAge",
            f"Usage messages wait more than {INGEST_AGE_SECONDS} s to be ingested",
            messaging.usage_queue.metric_approximate_age_of_oldest_message(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            threshold=INGEST_AGE_SECONDS,
            evaluation_periods=5,
        )
        self.dead_letters = self._count_alarm(
            "DeadLetters",
            "Usage messages failed 5 times and wait in the dead-letter queue: "
            "see docs/operations.md to inspect and redrive them",
            messaging.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
        )

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(alarms=list(self.alarms), title="Codecosts alarms", width=24)
        )
        self.dashboard.add_widgets(
            *(cloudwatch.AlarmWidget(alarm=alarm, title=alarm.node.id, width=8) for alarm in self.alarms)
        )

    def _rate_alarm(
        self, construct_id: str, description: str, *, failures: cloudwatch.IMetric, total: cloudwatch.IMetric
    ) -> cloudwatch.Alarm:
        rate = cloudwatch.MathExpression(
            label=f"{construct_id} (%)",
            expression="IF(total > 0, 100 * FILL(failures, 0) / total, 0)",
            using_metrics={"failures": failures, "total": total},
            period=PERIOD,
        )
        return self._threshold_alarm(
            construct_id,
            description,
            rate,
            threshold=ERROR_RATE_PERCENT,
            evaluation_periods=3,
            datapoints_to_alarm=2,
        )

    def _count_alarm(
        self, construct_id: str, description: str, metric: cloudwatch.IMetric
    ) -> cloudwatch.Alarm:
        """Alarms on the first occurrence: each of these is something lost or refused."""
        return self._threshold_alarm(
            construct_id,
            description,
            metric,
            threshold=1,
            evaluation_periods=1,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        )

    def _threshold_alarm(
        self,
        construct_id: str,
        description: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        evaluation_periods: int,
        datapoints_to_alarm: int | None = None,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            alarm_description=description,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            # No data is no failure: these metrics are only emitted when something happens.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._notify)
        self.alarms.append(alarm)
        return alarm
