"""From a request's credentials to the `Principal` every route is scoped by."""

from __future__ import annotations

from functions.api.auth.api_keys import ApiKeyAuthenticator
from functions.api.auth.clerk import ClerkSessionVerifier
from functions.api.auth.expiring_cache import ExpiringCache
from shared.credentials import API_KEY_PREFIX
from shared.models import Principal
from shared.store.users import UserStore

# Users already known to exist: a session user is created once, not looked up on every request.
KNOWN_USER_SECONDS = 600.0


class PrincipalResolver:
    def __init__(
        self, api_keys: ApiKeyAuthenticator, sessions: ClerkSessionVerifier | None, users: UserStore
    ) -> None:
        self.api_keys = api_keys
        self.sessions = sessions
        self.users = users
        self._known_users: ExpiringCache[bool] = ExpiringCache(KNOWN_USER_SECONDS)

    def resolve(self, bearer: str | None, session_cookie: str | None) -> Principal | None:
        """A bearer wins over the cookie; `sk_` bearers are API keys, any other bearer a session."""
        if bearer:
            if bearer.startswith(API_KEY_PREFIX):
                return self.api_keys.principal_for(bearer)
            return self._session_principal(bearer)
        if session_cookie:
            return self._session_principal(session_cookie)
        return None

    def _session_principal(self, token: str) -> Principal | None:
        if self.sessions is None:
            return None
        claims = self.sessions.verify(token)
        if claims is None:
            return None
        if not self._known_users.get(claims.user_id):
            self.users.ensure(claims.user_id, claims.email, claims.name)
            self._known_users.put(claims.user_id, True)
        # A personal account administers its own tenant; in an organization only its admins do.
        admin = claims.org_id is None or claims.org_role == "org:admin"
        return Principal(
            user_id=claims.user_id,
            tenant_id=claims.org_id or claims.user_id,
            org_id=claims.org_id,
            scope="admin" if admin else "write",
        )
