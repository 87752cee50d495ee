"""Configuration, read once from the environment into one typed model."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared import resources

CLERK_INCOMPLETE = (
    "Clerk is configured (CLERK_JWT_KEY or CLERK_JWKS_URL) but CLERK_ISSUER or CLERK_AUTHORIZED_PARTIES "
    "is not set: set CLERK_ISSUER to the instance's Frontend API URL and CLERK_AUTHORIZED_PARTIES to "
    "the dashboard's origin(s), comma separated; without them tokens of other Clerk instances or apps "
    "are accepted"
)


class Settings(BaseSettings):
    # validate_by_name: the Clerk fields are read from their own env names (aliases) yet can be passed
    # by field name in code and tests.
    model_config = SettingsConfigDict(env_prefix="CODECOSTS_", extra="ignore", validate_by_name=True)

    port: int = 3016
    upstream_url: str = "https://api.anthropic.com"
    public_url: str | None = None

    table_name: str = resources.TABLE.name
    usage_queue_url: str | None = None
    # Where the usage queue parks messages after 5 failed receives (`codecosts redrive-dlq` reads it).
    dead_letter_queue_url: str | None = None
    bodies_bucket: str = resources.BODIES_BUCKET.name

    # Server secret: peppers API-key hashes, fingerprints Anthropic credentials, signs page cursors.
    server_secret: SecretStr = Field(default=SecretStr(""))
    # In AWS the secret lives in Secrets Manager; it is fetched once, on first use, not at import.
    server_secret_arn: str | None = None

    # Seconds a slug or API-key lookup may be served from this instance's memory (contract: <= 10 s).
    lookup_cache_seconds: float = 5.0
    upstream_connect_timeout: float = 10.0
    # Claude can think for minutes before the first byte; Lambda's own limit is 15 minutes.
    upstream_read_timeout: float = 600.0
    # Above this many bytes, the usage message carries an S3 key instead of the compressed bodies
    # (claim-check). SQS takes messages up to 1 MiB (the queue's default maximum): a compressed
    # 600 KB Claude Code request still travels inline, so the ingest can compress it against its
    # session's base (a claim-checked call is stored alone).
    inline_body_limit: int = 1_000_000

    dev_api_key: SecretStr | None = None

    # Anthropic's Admin API, read by the bill check with each tenant's admin key.
    anthropic_admin_url: str = "https://api.anthropic.com"
    # The KMS key (id, ARN or alias) that encrypts those admin keys; the stack passes its ARN.
    admin_key_kms_key: str = resources.ADMIN_KEY_KMS_ALIAS

    # Alerts (budgets, bill check): the SNS topic the stack makes for email (its ARN; unset: no email).
    alerts_topic_arn: str | None = None
    # Tenants' webhooks are public HTTPS only. True lets a webhook on this machine's loopback (http or
    # https) through, for tests and a laptop's `make dev`: never set it in AWS.
    alert_webhook_allow_loopback: bool = False
    # Each attempt's bound (connect, write, read): a slow webhook holds the sender this long at most.
    alert_webhook_timeout: float = Field(default=5.0, gt=0)
    alert_webhook_attempts: int = Field(default=3, ge=1)

    # Clerk session verification, under Clerk's own variable names. Neither key source set: Clerk
    # sessions are refused and only Codecosts API keys authenticate. A key source set: the issuer and
    # the authorized parties are required too.
    clerk_jwt_key: str | None = Field(default=None, validation_alias="CLERK_JWT_KEY")
    clerk_jwks_url: str | None = Field(default=None, validation_alias="CLERK_JWKS_URL")
    clerk_issuer: str | None = Field(default=None, validation_alias="CLERK_ISSUER")
    clerk_authorized_parties: str | None = Field(default=None, validation_alias="CLERK_AUTHORIZED_PARTIES")
    # Set: the dashboard signs people in with Clerk's own sign-in; unset: by pasting an API key.
    clerk_publishable_key: str | None = Field(default=None, validation_alias="CLERK_PUBLISHABLE_KEY")

    @model_validator(mode="after")
    def _clerk_complete(self) -> Settings:
        if (self.clerk_jwt_key or self.clerk_jwks_url) and not (
            self.clerk_issuer and self.clerk_authorized_party_list
        ):
            raise ValueError(CLERK_INCOMPLETE)
        return self

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://localhost:{self.port}").rstrip("/")

    @property
    def clerk_authorized_party_list(self) -> tuple[str, ...]:
        """`CLERK_AUTHORIZED_PARTIES`, comma separated."""
        return tuple(
            party.strip() for party in (self.clerk_authorized_parties or "").split(",") if party.strip()
        )

    def secret_bytes(self) -> bytes:
        value = self.server_secret.get_secret_value()
        if not value and self.server_secret_arn:
            value = _fetch_secret(self.server_secret_arn)
        if not value:
            raise RuntimeError("CODECOSTS_SERVER_SECRET (or CODECOSTS_SERVER_SECRET_ARN) is not set")
        return value.encode()


@lru_cache(maxsize=4)
def _fetch_secret(arn: str) -> str:
    from shared import aws  # only the deployed functions (and the rehearsal) come here

    return str(aws.secrets_manager().get_secret_value(SecretId=arn)["SecretString"])


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
