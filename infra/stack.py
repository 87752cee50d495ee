"""The Codecosts stack: one construct per concern, wired together."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.constructs.alerts import AlertsTopic
from infra.constructs.api import ManagementApi
from infra.constructs.bill_check import BillCheck
from infra.constructs.functions import LOG_RETENTION, PROXY_MEMORY_MB, Concurrency, Functions
from infra.constructs.high_volume import ENVIRONMENT_MEMORY_MB, ProxyInstances
from infra.constructs.messaging import Messaging
from infra.constructs.monitoring import Monitoring
from infra.constructs.storage import Storage

ROOT = Path(__file__).resolve().parents[1]


def context_defaults() -> dict[str, Any]:
    """cdk.json's context: what a deploy uses unless `-c key=value` says otherwise."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


@dataclass(frozen=True)
class DeploymentConfig:
    """What ops set in cdk.json's context (the defaults live there) or with `cdk ... -c key=value`."""

    upstream_url: str
    bundle_dir: Path
    concurrency: Concurrency
    account_concurrency_limit: int
    proxy_max_streams: int | None  # cdk.json `proxyMaxConcurrency`: the proxy's streams at once
    alarm_email: str | None = None
    clerk_jwks_url: str | None = None
    clerk_issuer: str | None = None
    clerk_authorized_parties: str | None = None
    clerk_publishable_key: str | None = None
    high_volume: bool = False  # the proxy on Lambda Managed Instances (infra/constructs/high_volume.py)

    @classmethod
    def from_context(cls, scope: Construct) -> DeploymentConfig:
        def value(key: str) -> str | None:
            found = scope.node.try_get_context(key)
            return str(found) if found not in (None, "") else None

        def required(key: str) -> str:
            found = value(key)
            if found is None:
                raise ValueError(f"context value {key!r} is not set (see cdk.json)")
            return found

        def count(key: str) -> int | None:
            found = value(key)
            return int(found) if found is not None else None

        bundle_dir = Path(required("bundleDir"))
        high_volume = value("highVolume") in ("true", "True")
        proxy_max_streams = count("proxyMaxConcurrency")
        concurrency = Concurrency(
            # On Managed Instances the streams are capped by environments (infra/constructs/high_volume.py):
            # one environment serves hundreds of them, so a reservation would not count what it means to.
            proxy=None if high_volume else proxy_max_streams,
            api=count("apiReservedConcurrency"),
            export=count("exportMaxConcurrency"),
            ingest=count("ingestReservedConcurrency"),
        )
        account_limit = int(required("accountConcurrencyLimit"))
        concurrency.check(account_limit)
        return cls(
            upstream_url=required("upstreamUrl"),
            bundle_dir=bundle_dir if bundle_dir.is_absolute() else ROOT / bundle_dir,
            alarm_email=value("alarmEmail"),
            clerk_jwks_url=value("clerkJwksUrl"),
            clerk_issuer=value("clerkIssuer"),
            clerk_authorized_parties=value("clerkAuthorizedParties"),
            clerk_publishable_key=value("clerkPublishableKey"),
            concurrency=concurrency,
            account_concurrency_limit=account_limit,
            proxy_max_streams=proxy_max_streams,
            high_volume=high_volume,
        )

    def api_environment(self) -> dict[str, str]:
        """Clerk verification for the API, and the key of its sign-in for the dashboard's page; unset
        keys stay unset (Clerk sessions are then refused, and the page offers API-key sign-in only)."""
        settings = {
            "CLERK_JWKS_URL": self.clerk_jwks_url,
            "CLERK_ISSUER": self.clerk_issuer,
            "CLERK_AUTHORIZED_PARTIES": self.clerk_authorized_parties,
            "CLERK_PUBLISHABLE_KEY": self.clerk_publishable_key,
        }
        return {name: setting for name, setting in settings.items() if setting}


class CodecostsStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        storage = Storage(self, "Storage")
        messaging = Messaging(self, "Messaging")
        functions = Functions(
            self,
            "Functions",
            storage=storage,
            messaging=messaging,
            bundle_dir=config.bundle_dir,
            upstream_url=config.upstream_url,
            api_environment=config.api_environment(),
            concurrency=config.concurrency,
            # Managed instances keep their environments running: nothing to restore; and their
            # smallest environment is 2 GB (shared by the environment's streams).
            snap_start=not config.high_volume,
            proxy_memory_mb=ENVIRONMENT_MEMORY_MB if config.high_volume else PROXY_MEMORY_MB,
        )
        if config.high_volume:
            ProxyInstances(
                self, "ProxyInstances", proxy=functions.proxy, max_streams=config.proxy_max_streams
            )
        bill_check = BillCheck(
            self,
            "BillCheck",
            storage=storage,
            api=functions.api,
            export=functions.export,
            bundle_dir=config.bundle_dir,
        )
        alerts = AlertsTopic(
            self,
            "Alerts",
            table=storage.table,
            budget_checker=functions.ingest,
            bill_checkers=[functions.api, bill_check.function],
            same_settings=[functions.export],  # the API's app, serving only the CSV export
        )
        api = ManagementApi(
            self,
            "Api",
            handler=functions.api,
            export_handler=functions.export,
            log_retention=LOG_RETENTION,
        )
        monitoring = Monitoring(
            self,
            "Monitoring",
            functions=functions,
            reconcile=bill_check.function,
            messaging=messaging,
            table=storage.table,
            api_stage=api.rest_api.deployment_stage,
            account_concurrency_limit=config.account_concurrency_limit,
            alarm_email=config.alarm_email,
        )

        CfnOutput(
            self,
            "ProxyUrl",
            value=functions.proxy_base_url,
            description="Proxy base URL: ANTHROPIC_BASE_URL=<ProxyUrl>/proxy/<slug>",
        )
        CfnOutput(self, "ApiUrl", value=api.url, description="Management API, e.g. <ApiUrl>/health")
        CfnOutput(
            self,
            "DashboardUrl",
            value=api.dashboard_url,
            description="The dashboard: sign in with Clerk (clerkPublishableKey) or a Codecosts API key",
        )
        CfnOutput(
            self, "AlarmTopicArn", value=monitoring.topic.topic_arn, description="Subscribe to get alarms"
        )
        CfnOutput(
            self,
            "AlertsTopicArn",
            value=alerts.topic.topic_arn,
            description="Tenants' alerts for email: subscribe with a filter policy on `tenant`",
        )
        CfnOutput(
            self,
            "MonitoringDashboardUrl",
            value=f"https://console.aws.amazon.com/cloudwatch/home?region={self.region}#dashboards/dashboard/"
            f"{monitoring.dashboard.dashboard_name}",
            description="Every alarm on one CloudWatch dashboard (docs/operations.md)",
        )
        CfnOutput(
            self,
            "DeadLetterQueueUrl",
            value=messaging.dead_letter_queue.queue_url,
            description="Usage messages that failed 5 times",
        )
        CfnOutput(
            self,
            "UsageQueueUrl",
            value=messaging.usage_queue.queue_url,
            description="Where `codecosts redrive-dlq` sends dead-lettered usage messages back",
        )
        # What `codecosts admin bootstrap` reads to mint the first API key (DeployedStack in
        # codecosts_cli/admin.py): where the keys live, and the secret their hashes are HMACs under.
        CfnOutput(self, "TableName", value=storage.table.table_name, description="The Codecosts table")
        CfnOutput(
            self,
            "ServerSecretArn",
            value=storage.server_secret.secret_arn,
            description="The server secret (its ARN only): API-key hashes are HMACs under it",
        )
