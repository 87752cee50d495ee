"""Clerk session tokens: RS256 JWTs from the `__session` cookie or a bearer header.

With Clerk configured, the issuer and the authorized parties must be too (start-up fails otherwise):
without them any Clerk instance's tokens, or tokens minted for another of the instance's apps,
would be accepted.

The verification key is either `CLERK_JWT_KEY` (PEM, no network) or the keys published at
`CLERK_JWKS_URL`, kept for five minutes; a token signed with a key id not seen yet triggers one
refetch, and at most one refetch per `REFETCH_INTERVAL_SECONDS`, so made-up key ids cannot turn
every request into a request to Clerk.

PyJWT, cryptography and httpx are imported when a session token is first verified (or a PEM key is
parsed), not with the app: requests with a Codecosts API key, and the deployed API's start-up (keys
come from the JWKS URL there), never need them.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from shared.observability import logger
from shared.settings import CLERK_INCOMPLETE

ALGORITHM = "RS256"
LEEWAY_SECONDS = 5
# Clerk ids look like `user_2abc...` / `org_2abc...`; anything else cannot be a tenant (the id is
# part of table keys, where `#` separates components).
_CLERK_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


@dataclass(frozen=True)
class SessionClaims:
    user_id: str
    org_id: str | None
    email: str | None
    name: str | None
    org_role: str | None = None  # `org:admin`, `org:member`, ...: the role in the active organization


class SigningKeys(Protocol):
    def key_for(self, key_id: str | None) -> Any | None: ...


class PemSigningKey:
    """`CLERK_JWT_KEY`: the instance's public key, no network."""

    def __init__(self, pem: str) -> None:
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        # Environments often carry the PEM on one line with literal `\n`s.
        self.key = load_pem_public_key(pem.replace("\\n", "\n").strip().encode())

    def key_for(self, key_id: str | None) -> Any | None:
        return self.key


class JwksSigningKeys:
    """`CLERK_JWKS_URL`: the published keys by id, cached; refetched on expiry or an unknown id."""

    CACHE_SECONDS = 300.0
    REFETCH_INTERVAL_SECONDS = 10.0

    def __init__(self, url: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.clock = clock
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def key_for(self, key_id: str | None) -> Any | None:
        with self._lock:
            now = self.clock()
            if self._fetched_at is None or now - self._fetched_at >= self.CACHE_SECONDS:
                self._refresh(now)
            elif key_id not in self._keys and now - self._fetched_at >= self.REFETCH_INTERVAL_SECONDS:
                self._refresh(now)  # a key Clerk has rotated in since the last fetch
            if key_id is None and len(self._keys) == 1:
                return next(iter(self._keys.values()))
            return self._keys.get(key_id) if key_id is not None else None

    def _refresh(self, now: float) -> None:
        import httpx
        import jwt

        self._fetched_at = now  # also on failure: a broken endpoint is retried at the same pace
        try:
            key_set = jwt.PyJWKSet.from_dict(_fetch_json(self.url))
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as error:
            # Keep the keys we had: a Clerk hiccup should not log everyone out.
            logger.warning("could not fetch Clerk JWKS", extra={"error": type(error).__name__})
            return
        self._keys = {key.key_id: key.key for key in key_set.keys if key.key_id and key.key_type == "RSA"}


def _fetch_json(url: str) -> dict[str, Any]:
    import httpx

    response = httpx.get(url, timeout=5.0, follow_redirects=False)
    response.raise_for_status()
    body = response.json()
    if not isinstance(body, dict):
        raise ValueError("JWKS is not a JSON object")
    return body


class ClerkSessionVerifier:
    """Checks signature, expiry, issuer (`iss`), authorized party (`azp`) and that the token names a
    session (`sid`): a Clerk JWT that is not a session token (a JWT template's, say) is refused."""

    def __init__(self, keys: SigningKeys, issuer: str, authorized_parties: tuple[str, ...]) -> None:
        if not issuer or not authorized_parties:
            raise ValueError(CLERK_INCOMPLETE)
        self.keys = keys
        self.issuer = issuer
        self.authorized_parties = authorized_parties

    def verify(self, token: str) -> SessionClaims | None:
        """The session's claims, or None for any token that is not a valid session for this app."""
        import jwt

        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM:
                return None
            key = self.keys.key_for(header.get("kid"))
            if key is None:
                return None
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                leeway=LEEWAY_SECONDS,
                issuer=self.issuer,
                # Clerk session tokens carry no `aud`; `azp` is checked below instead.
                options={"require": ["exp", "sub", "iss", "sid"], "verify_aud": False},
            )
        except jwt.PyJWTError:
            return None
        if claims.get("azp") not in self.authorized_parties:
            return None
        return _session_claims(claims)


def _session_claims(claims: dict[str, Any]) -> SessionClaims | None:
    user_id = claims.get("sub")
    if not isinstance(user_id, str) or not _CLERK_ID.match(user_id):
        return None
    # v1 tokens: `org_id` and `org_role` ("org:admin"); v2 tokens: `o: {"id", "rol": "admin"}`.
    org_id, org_role = claims.get("org_id"), claims.get("org_role")
    organization = claims.get("o")
    if not org_id and isinstance(organization, dict):
        org_id = organization.get("id")
        role = organization.get("rol")
        org_role = f"org:{role}" if isinstance(role, str) and not role.startswith("org:") else role
    if org_id is not None and (not isinstance(org_id, str) or not _CLERK_ID.match(org_id)):
        return None
    return SessionClaims(
        user_id=user_id,
        org_id=org_id or None,
        email=_text(claims.get("email")),
        name=_text(claims.get("name")),
        org_role=org_role if isinstance(org_role, str) else None,
    )


def _text(value: Any) -> str | None:
    return value[:320] if isinstance(value, str) and value else None


def verifier_from_settings(
    jwt_key: str | None, jwks_url: str | None, issuer: str | None, authorized_parties: tuple[str, ...]
) -> ClerkSessionVerifier | None:
    """None when neither key source is configured: Clerk sessions are then refused. With one, the
    issuer and the authorized parties are required (ValueError naming the settings otherwise)."""
    keys: SigningKeys
    if jwt_key:
        keys = PemSigningKey(jwt_key)
    elif jwks_url:
        keys = JwksSigningKeys(jwks_url)
    else:
        return None
    return ClerkSessionVerifier(keys, issuer or "", authorized_parties)
