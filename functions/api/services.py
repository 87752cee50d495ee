"""What one app instance holds between requests: settings, stores and the credential caches.

Creating it reads configuration only: the server secret is read, and AWS is touched, when a request
first needs them, so importing the app (at Lambda start-up, in tests) does neither.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from functions.api.auth.api_keys import ApiKeyAuthenticator
from functions.api.auth.clerk import ClerkSessionVerifier, verifier_from_settings
from functions.api.auth.principals import PrincipalResolver
from shared.alerts import Alerts
from shared.bill_check import BillCheck
from shared.settings import Settings
from shared.store.api_keys import ApiKeyStore
from shared.store.audit import AuditStore
from shared.store.developers import DeveloperStore
from shared.store.endpoints import EndpointStore
from shared.store.rate_limits import RateLimiter
from shared.store.usage_records import UsageStore
from shared.store.users import UserStore

# The health check must answer while API Gateway still waits (29 s): no long timeouts, no retries.
_HEALTH_CHECK_CONFIG = Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 1})


class ApiServices:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Parsed now: a malformed CLERK_JWT_KEY is a deployment error, reported at start-up.
        self.sessions: ClerkSessionVerifier | None = verifier_from_settings(
            settings.clerk_jwt_key,
            settings.clerk_jwks_url,
            settings.clerk_issuer,
            settings.clerk_authorized_party_list,
        )
        # Stores hold a table name; their boto3 handles are made on first use.
        self.endpoints = EndpointStore(settings.table_name)
        self.users = UserStore(settings.table_name)
        self.audit = AuditStore(settings.table_name)
        self.usage = UsageStore(settings.table_name, settings.bodies_bucket)
        self.developers = DeveloperStore(settings.table_name)
        self.rate_limiter = RateLimiter(settings.table_name)
        self.bill_check = BillCheck.from_settings(settings)
        self.admin_keys = self.bill_check.admin_keys
        self.alerts = Alerts.from_settings(settings)
        self._lock = threading.Lock()
        self._credentials: tuple[ApiKeyStore, ApiKeyAuthenticator, PrincipalResolver] | None = None
        self._health_client: Any = None

    @property
    def secret(self) -> bytes:
        return self.settings.secret_bytes()

    def _credential_services(self) -> tuple[ApiKeyStore, ApiKeyAuthenticator, PrincipalResolver]:
        # Built once under a lock: two copies would mean two caches, and an eviction lost in one.
        with self._lock:
            if self._credentials is None:
                store = ApiKeyStore(self.settings.table_name, self.secret)
                authenticator = ApiKeyAuthenticator(store, self.settings.lookup_cache_seconds)
                resolver = PrincipalResolver(authenticator, self.sessions, self.users)
                self._credentials = (store, authenticator, resolver)
            return self._credentials

    @property
    def api_keys(self) -> ApiKeyStore:
        return self._credential_services()[0]

    @property
    def api_key_auth(self) -> ApiKeyAuthenticator:
        return self._credential_services()[1]

    @property
    def principals(self) -> PrincipalResolver:
        return self._credential_services()[2]

    @property
    def health_client(self) -> Any:
        with self._lock:
            if self._health_client is None:
                self._health_client = boto3.client("dynamodb", config=_HEALTH_CHECK_CONFIG)
            return self._health_client
