"""Codecosts API keys (`sk_...`) on the request path.

Order of checks: format and checksum (no table read), then this instance's short cache, then one
read by hash. A key deleted through this instance stops working at once (evicted and remembered as
revoked); one deleted elsewhere within `lookup_cache_seconds` (the contract allows 10 s).
`last_used_at` is written at most once a minute per key per instance, not on every request.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from functions.api.auth.expiring_cache import ExpiringCache
from shared.credentials import hash_api_key, is_well_formed_api_key
from shared.models import Principal
from shared.observability import logger
from shared.store.api_keys import ApiKeyStore

TOUCH_INTERVAL_SECONDS = 60.0
# Long enough to outlive any lookup that read the key before its deletion and caches it afterwards.
REVOKED_MEMORY_SECONDS = 300.0


class ApiKeyAuthenticator:
    def __init__(
        self,
        store: ApiKeyStore,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._principals: ExpiringCache[Principal] = ExpiringCache(cache_seconds, clock=clock)
        self._revoked: ExpiringCache[bool] = ExpiringCache(REVOKED_MEMORY_SECONDS, clock=clock)
        self._touched: ExpiringCache[bool] = ExpiringCache(TOUCH_INTERVAL_SECONDS, clock=clock)

    def principal_for(self, key: str) -> Principal | None:
        if not is_well_formed_api_key(key):
            return None
        key_hash = hash_api_key(key, self.store.pepper)
        principal = self._principals.get(key_hash)
        if principal is None:
            principal = self.store.principal_for(key)
            if principal is None:
                return None
            self._principals.put(key_hash, principal)
        assert principal.api_key_id is not None
        if self._revoked.get(principal.api_key_id):
            return None
        self._record_use(principal)
        return principal

    def forget(self, key_id: str) -> None:
        """The key was deleted through this instance: refuse it from now on."""
        self._revoked.put(key_id, True)
        self._principals.discard_where(lambda principal: principal.api_key_id == key_id)

    def _record_use(self, principal: Principal) -> None:
        assert principal.api_key_id is not None
        if self._touched.get(principal.api_key_id):
            return
        self._touched.put(principal.api_key_id, True)
        try:
            self.store.touch(principal.tenant_id, principal.api_key_id)
        except Exception:
            # `last_used_at` is informational: a failed write (say, the key was just deleted) must
            # not fail the request it was noticed on.
            logger.warning("could not record API key use", extra={"api_key_id": principal.api_key_id})
