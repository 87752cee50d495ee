"""The three functions, made by one small factory, each with a role that reaches only what it uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import Duration, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.bundles import LAMBDA_PYTHON
from infra.constructs.api import EXPORT_TIMEOUT
from infra.constructs.messaging import Messaging
from infra.constructs.storage import Storage
from infra.nag import acknowledge
from shared.hosting import (
    READINESS_CHECK_PATH,
    SNAPSTART_AFTER_RESTORE_PATH,
    SNAPSTART_BEFORE_CHECKPOINT_PATH,
)
from shared.resources import BODIES_BUCKET, INGEST_MEMORY_MB, INGEST_TIMEOUT_SECONDS, TABLE

# AWS Lambda Web Adapter, arm64 layer published by AWS (account 753240598075) in every commercial
# region. Version 30 is adapter v1.1.0. Pinned here, and only here: bump it deliberately.
WEB_ADAPTER_LAYER_VERSION = 30
WEB_ADAPTER_LAYER_ACCOUNT = "753240598075"

# The bundles' wheels are built for this Python version: one setting for both.
# SnapStart supports Python 3.12 and later (AWS's SnapStart page, "Supported features and limitations").
RUNTIME = lambda_.Runtime(f"python{LAMBDA_PYTHON}", lambda_.RuntimeFamily.PYTHON, supports_snap_start=True)
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
ADAPTER_PORT = "8000"  # where run.sh starts uvicorn, inside the sandbox
# Where the functions' EMF metrics go (shared/observability.py); each carries a `service` dimension.
METRICS_NAMESPACE = "Codecosts"
# The ingest's SQS event source: batches of up to this many messages, gathered for at most this long,
# at most this many at once (its reservation must cover them). devstack/poller.py polls the same way.
EVENT_SOURCE_BATCH_SIZE = 100
EVENT_SOURCE_WINDOW_SECONDS = 1
INGEST_POLLERS = 5
# The proxy's memory: the smallest size (32 MB steps) that holds its measured peak RSS for one call
# (~110 MiB streaming a 20 MB reply) with a quarter to spare, plus the Web Adapter's own; a stream
# bills memory x its whole duration, so this is most of the cost of a call (docs/benchmarks.md, "Cost
# per million Claude Code calls", which also says what it costs in CPU time).
PROXY_MEMORY_MB = 160


# Lambda keeps this much of the account's concurrency unreserved: a reservation that would leave
# less fails the deploy.
UNRESERVED_MINIMUM = 100


@dataclass(frozen=True)
class Concurrency:
    """Concurrency reserved per function, from cdk.json's context; None leaves a function in the
    account's shared pool. A reservation is a guarantee and a ceiling at once: the proxy's and the
    export's cap what a flood on them can take, the API's and the ingest's keep what they need free."""

    proxy: int | None
    api: int | None
    export: int | None
    ingest: int | None

    def check(self, account_limit: int) -> None:
        """Refuses at synth what Lambda would refuse at deploy, or what would throttle the ingest."""
        reserved = sum(n for n in (self.proxy, self.api, self.export, self.ingest) if n is not None)
        if reserved and reserved > account_limit - UNRESERVED_MINIMUM:
            raise ValueError(
                f"reserved concurrency {reserved} leaves less than {UNRESERVED_MINIMUM} of the account's "
                f"{account_limit} unreserved (accountConcurrencyLimit in cdk.json)"
            )
        if self.ingest is not None and self.ingest < INGEST_POLLERS:
            raise ValueError(f"ingestReservedConcurrency must be at least {INGEST_POLLERS}, its pollers")


def service_name(function_name: str) -> str:
    """The Powertools service of a function: its logs' `service` and its metrics' `service` dimension."""
    return f"codecosts-{function_name.replace('_', '-')}"


def web_adapter_layer_arn(region: str) -> str:
    return (
        f"arn:aws:lambda:{region}:{WEB_ADAPTER_LAYER_ACCOUNT}:layer:LambdaAdapterLayerArm64:"
        f"{WEB_ADAPTER_LAYER_VERSION}"
    )


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # the function's name in the stack (construct id, Powertools service)
    handler: str
    description: str
    timeout: Duration
    memory_size: int
    environment: Mapping[str, str]
    statements: Sequence[iam.PolicyStatement]
    layers: Sequence[lambda_.ILayerVersion] = field(default_factory=tuple)
    bundle: str | None = None  # its bundle (a folder under functions/), when not `name`
    # Concurrency reserved for it, which is also its ceiling (infra/stack.py's Concurrency); None: shared.
    reserved_concurrency: int | None = None
    # Environments restored from a snapshot of an initialised one (published versions only).
    snap_start: bool = False


def codecosts_function(scope: Construct, spec: FunctionSpec, bundle_dir: Path) -> lambda_.Function:
    """An arm64 Python function with its own role, log group, tracing and Powertools settings."""
    code_dir = bundle_dir / (spec.bundle or spec.name)
    if not code_dir.is_dir():
        raise FileNotFoundError(f"no bundle at {code_dir}: run `make bundles` first")
    construct_id = "".join(part.capitalize() for part in spec.name.split("_"))
    log_group = logs.LogGroup(scope, f"{construct_id}Logs", retention=LOG_RETENTION)
    # Its own role, no managed policy: AWSLambdaBasicExecutionRole would let it write any log group.
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Codecosts {spec.name} function",
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
        )
    )
    for statement in spec.statements:
        role.add_to_policy(statement)
    function = lambda_.Function(
        scope,
        construct_id,
        description=spec.description,
        runtime=RUNTIME,
        architecture=lambda_.Architecture.ARM_64,
        code=lambda_.Code.from_asset(str(code_dir)),
        handler=spec.handler,
        timeout=spec.timeout,
        memory_size=spec.memory_size,
        role=role,
        log_group=log_group,
        tracing=lambda_.Tracing.ACTIVE,
        layers=list(spec.layers),
        reserved_concurrent_executions=spec.reserved_concurrency,
        snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if spec.snap_start else None,
        environment={
            "POWERTOOLS_SERVICE_NAME": service_name(spec.name),
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            **spec.environment,
        },
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions: the "
        "resource must be '*'. Added by Lambda's active tracing; no other statement uses '*'.",
    )
    acknowledge(
        function,
        "AwsSolutions-L1",
        f"Pinned to python{LAMBDA_PYTHON} on purpose: the bundles are built from wheels for that version, "
        "and the runtime moves together with infra/bundles.py's LAMBDA_PYTHON.",
    )
    return function


class Functions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: Storage,
        messaging: Messaging,
        bundle_dir: Path,
        upstream_url: str,
        api_environment: Mapping[str, str],
        concurrency: Concurrency,
        snap_start: bool = True,
        proxy_memory_mb: int = PROXY_MEMORY_MB,
    ) -> None:
        super().__init__(scope, construct_id)
        table = storage.table
        table_arn = table.table_arn
        index_arns = [f"{table_arn}/index/{index.name}" for index in TABLE.indexes]
        bodies = storage.bodies_bucket.arn_for_objects(f"{BODIES_BUCKET.bodies_prefix}*")
        bucket_id = Stack.of(self).get_logical_id(storage.bodies_bucket.node.default_child)  # type: ignore[arg-type]
        read_secret = iam.PolicyStatement(
            actions=["secretsmanager:GetSecretValue"], resources=[storage.server_secret.secret_arn]
        )
        storage_settings = {
            "CODECOSTS_TABLE_NAME": table.table_name,
            "CODECOSTS_BODIES_BUCKET": storage.bodies_bucket.bucket_name,
        }
        common = {
            **storage_settings,
            # The secret's ARN, never its value: resolved once at start-up by shared.settings.
            "CODECOSTS_SERVER_SECRET_ARN": storage.server_secret.secret_arn,
        }
        # The Lambda Web Adapter runs a function's run.sh (uvicorn) and streams its responses.
        web_adapter = lambda_.LayerVersion.from_layer_version_arn(
            self, "WebAdapterLayer", web_adapter_layer_arn(Stack.of(self).region)
        )
        streaming_adapter = {
            "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
            "AWS_LWA_INVOKE_MODE": "response_stream",
            "PORT": ADAPTER_PORT,
            # Before the first invocation the adapter polls this path until the app answers, for as
            # long as it takes. Both apps answer 200 there with no I/O (shared/hosting.py); only a 200
            # counts, so a 404 from a wrong path or an unbuilt dashboard's 503 never passes for ready.
            "AWS_LWA_READINESS_CHECK_PATH": READINESS_CHECK_PATH,
            "AWS_LWA_READINESS_CHECK_HEALTHY_STATUS": "200",
        }

        # A cold start is a restore: the imports and the first call's work (functions/proxy/snapstart.py)
        # run once, when a version is published, at full speed, instead of in each new environment at
        # the proxy's small CPU share (docs/benchmarks.md, "Cold start").
        snapstart_hooks = {
            "AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH": SNAPSTART_BEFORE_CHECKPOINT_PATH,
            "AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH": SNAPSTART_AFTER_RESTORE_PATH,
        }
        self.proxy = codecosts_function(
            self,
            FunctionSpec(
                name="proxy",
                # run.sh starts uvicorn; the adapter's /opt/bootstrap wrapper execs it.
                handler="run.sh",
                description="Codecosts proxy: streams Anthropic calls and queues their usage",
                # Claude's longest streams (extended thinking) run for many minutes: Lambda's maximum.
                timeout=Duration.minutes(15),
                memory_size=proxy_memory_mb,
                # Public: a flood of calls must not take the concurrency the API and the ingest need.
                reserved_concurrency=concurrency.proxy,
                layers=[web_adapter],
                environment={
                    **common,
                    **streaming_adapter,
                    **(snapstart_hooks if snap_start else {}),
                    "CODECOSTS_USAGE_QUEUE_URL": messaging.usage_queue.queue_url,
                    "CODECOSTS_UPSTREAM_URL": upstream_url,
                },
                snap_start=snap_start,
                statements=[
                    iam.PolicyStatement(
                        actions=["sqs:SendMessage"], resources=[messaging.usage_queue.queue_arn]
                    ),
                    # A claim-checked call's bodies, tagged with the endpoint's retention.
                    iam.PolicyStatement(actions=["s3:PutObject", "s3:PutObjectTagging"], resources=[bodies]),
                    # Slug lookups, the shared rate-limit counters, a budget's month spend (one
                    # Query of the endpoint's day aggregates: the table, no index), and the usage
                    # record written straight to the table (the ingest's transaction) when the queue
                    # is unavailable.
                    iam.PolicyStatement(
                        actions=[
                            "dynamodb:GetItem",
                            "dynamodb:Query",
                            "dynamodb:UpdateItem",
                            "dynamodb:PutItem",
                        ],
                        resources=[table_arn],
                    ),
                    read_secret,
                ],
            ),
            bundle_dir,
        )
        # SnapStart applies to published versions: the URL invokes an alias of the current one.
        self.proxy_invoked: lambda_.IFunction = (
            lambda_.Alias(self, "ProxyLive", alias_name="live", version=self.proxy.current_version)
            if snap_start
            else self.proxy
        )
        self.proxy_url = self.proxy_invoked.add_function_url(
            # Callers authenticate to Anthropic with their own key; the slug picks the endpoint.
            auth_type=lambda_.FunctionUrlAuthType.NONE,
            invoke_mode=lambda_.InvokeMode.RESPONSE_STREAM,
        )
        # The function URL ends in "/": the base without it, so `<base>/proxy/<slug>` reads as documented.
        self.proxy_base_url = f"https://{Fn.select(2, Fn.split('/', self.proxy_url.url))}"

        api_settings = {
            **common,
            # The `url` of a proxy endpoint: the proxy's own function URL.
            "CODECOSTS_PUBLIC_URL": self.proxy_base_url,
            **api_environment,
        }
        query_indexes = iam.PolicyStatement(actions=["dynamodb:Query"], resources=index_arns)
        # What any API request may do: read, count its rate limit, note a key's last use, create a
        # new Clerk user's profile.
        request_actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
        self.api = codecosts_function(
            self,
            FunctionSpec(
                name="api",
                handler="functions.api.handler.handler",
                description="Codecosts management API (FastAPI through Mangum)",
                # API Gateway gives up on a buffered integration after 29 s.
                timeout=Duration.seconds(29),
                memory_size=512,
                reserved_concurrency=concurrency.api,
                environment=api_settings,
                statements=[
                    iam.PolicyStatement(
                        actions=[
                            *request_actions,
                            # The alerts the bill check raises: which were already sent (one read).
                            "dynamodb:BatchGetItem",
                            "dynamodb:DeleteItem",
                        ],
                        resources=[table_arn],
                    ),
                    query_indexes,
                    # Call details read bodies; DELETE /api/usage/.../bodies and the bulk delete remove them.
                    iam.PolicyStatement(actions=["s3:GetObject", "s3:DeleteObject"], resources=[bodies]),
                    read_secret,
                ],
            ),
            bundle_dir,
        )
        # The same app and bundle, run by the adapter so that API Gateway streams
        # `GET /api/usage/export.csv` (constructs/api.py): it needs only what any request may do.
        self.export = codecosts_function(
            self,
            FunctionSpec(
                name="usage_export",
                bundle="api",
                handler="run.sh",
                description="Codecosts usage CSV export, streamed through API Gateway",
                timeout=EXPORT_TIMEOUT,
                # One DynamoDB page (1 MB) in memory at a time; more memory is more CPU for the CSV.
                memory_size=512,
                # Each export holds an execution environment for up to 15 minutes: a ceiling of its own.
                reserved_concurrency=concurrency.export,
                layers=[web_adapter],
                environment={
                    **api_settings,
                    **streaming_adapter,
                    # A REST API event's path is the resource path; never prefix it with the stage.
                    "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH": "true",
                },
                statements=[
                    iam.PolicyStatement(actions=request_actions, resources=[table_arn]),
                    query_indexes,
                    read_secret,
                ],
            ),
            bundle_dir,
        )

        self.ingest = codecosts_function(
            self,
            FunctionSpec(
                name="usage_ingest",
                handler="functions.usage_ingest.handler.handler",
                description="Codecosts usage ingest: one usage record per queued call",
                timeout=Duration.seconds(INGEST_TIMEOUT_SECONDS),
                memory_size=INGEST_MEMORY_MB,
                reserved_concurrency=concurrency.ingest,
                # No secret: the ingest neither hashes keys nor signs cursors.
                environment=storage_settings,
                statements=[
                    # TransactWriteItems (judged item by item): record Puts, conditional, and the ADDs
                    # to the aggregates; UpdateItem alone: a session's first and last call moved.
                    iam.PolicyStatement(
                        actions=["dynamodb:PutItem", "dynamodb:UpdateItem"],
                        resources=[table_arn],
                    ),
                    # A session's latest call, for the base its bodies are compressed against.
                    iam.PolicyStatement(actions=["dynamodb:Query"], resources=index_arns),
                    # Bodies: the session's base read, the call's object (and a new base) written, tagged.
                    iam.PolicyStatement(
                        actions=["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"], resources=[bodies]
                    ),
                ],
            ),
            bundle_dir,
        )
        self.ingest.add_event_source(
            event_sources.SqsEventSource(
                messaging.usage_queue,
                # A batch is written as a couple of transactions (shared/store/usage_writes.py), so
                # the larger the batch, the less each record costs: measured in-process (`make bench`,
                # docs/benchmarks.md), ~0.7 ms of CPU a record at 100 against ~2.6 ms one at a time.
                # At 512 MB (0.29 vCPU) a batch of 100 takes ~0.3 s with its round trips: each poller
                # ingests ~300 records/s, the five ~1,500/s (target 1,000). A 1 s window fills
                # batches under load while a lone call still shows up in the API within a second or two.
                batch_size=EVENT_SOURCE_BATCH_SIZE,
                max_batching_window=Duration.seconds(EVENT_SOURCE_WINDOW_SECONDS),
                # Batches that run at once may conflict on a tenant's aggregates of the day: the
                # ingest retries those in-process, and five keep conflicts rare.
                max_concurrency=INGEST_POLLERS,
                # Only the failed messages come back (the handler reports them in batchItemFailures).
                report_batch_item_failures=True,
            )
        )
        # The ingest reads the usage messages the proxy writes and refuses fields it does not know: a
        # deploy updates the ingest (and its event source) before the proxy, so a new proxy's messages
        # never meet an old ingest and end in the dead-letter queue.
        self.proxy.node.add_dependency(self.ingest)
        acknowledge(
            self,
            f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{BODIES_BUCKET.bodies_prefix}*]",
            "Bodies are stored one object per call under the bodies prefix: each function's statement "
            "covers that prefix of this stack's bucket and nothing else.",
        )
