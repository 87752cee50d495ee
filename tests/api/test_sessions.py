"""Clerk session tokens: what gets in, and everything that must not (each a 401)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from fastapi.testclient import TestClient
from pydantic import ValidationError

from functions.api.app import create_app
from functions.api.auth.clerk import JwksSigningKeys
from shared.settings import Settings
from tests.api.conftest import DASHBOARD, ISSUER, SigningKey, session_claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256_with_public_key(claims: dict[str, Any], public_pem: str) -> str:
    """The classic algorithm-confusion forgery: HMAC keyed with the (public) RSA key."""
    signing_input = (
        _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + _b64(json.dumps(claims).encode())
    )
    signature = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


def _unsigned(claims: dict[str, Any]) -> str:
    return (
        _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        + "."
        + _b64(json.dumps(claims).encode())
        + "."
    )


def _forged_tokens(clerk_key: SigningKey, foreign_key: SigningKey) -> dict[str, str]:
    now = int(time.time())

    def signed(claims: dict[str, Any], key: bytes = clerk_key.private_pem, algorithm: str = "RS256") -> str:
        return jwt.encode(claims, key, algorithm=algorithm)

    return {
        "alg none": _unsigned(session_claims()),
        "HS256 keyed with the public key": _hs256_with_public_key(session_claims(), clerk_key.public_pem),
        "RS512 instead of RS256": signed(session_claims(), algorithm="RS512"),
        "foreign key": signed(session_claims(), foreign_key.private_pem),
        "expired beyond leeway": signed(session_claims(exp=now - 30, nbf=now - 90, iat=now - 90)),
        "not yet valid": signed(session_claims(nbf=now + 60)),
        "no exp": signed(session_claims(exp=None)),
        "wrong issuer": signed(session_claims(iss="https://evil.example")),
        "no issuer": signed(session_claims(iss=None)),
        "foreign azp": signed(session_claims(azp="https://evil.example")),
        "missing azp": signed(session_claims(azp=None)),
        "missing sub": signed(session_claims(sub=None)),
        # A Clerk JWT that names no session (a JWT template's token, say) is not a session.
        "missing sid": signed(session_claims(sid=None)),
        "sub that cannot be an id": signed(session_claims(sub="user_a#EP#x")),
        "garbage": "not-a-jwt",
    }


@pytest.fixture(scope="session")
def forged_tokens(clerk_key: SigningKey, foreign_key: SigningKey) -> dict[str, str]:
    return _forged_tokens(clerk_key, foreign_key)


def test_every_forged_or_invalid_session_is_refused(
    client: TestClient, forged_tokens: dict[str, str]
) -> None:
    for case, token in forged_tokens.items():
        for headers in ({"Authorization": f"Bearer {token}"}, {"Cookie": f"__session={token}"}):
            response = client.get("/api/profile", headers=headers)
            assert response.status_code == 401, case
            assert response.json() == {"error": "Not authenticated"}, case


def test_session_from_header_or_cookie_is_accepted(
    client: TestClient, session_token: Callable[..., str]
) -> None:
    token = session_token("user_alice", email="alice@example.com", name="Alice")
    by_header = client.get("/api/profile", headers={"Authorization": f"Bearer {token}"})
    assert by_header.status_code == 200
    assert by_header.json()["id"] == "user_alice"
    # Created on first sight, from the claims the token carries.
    assert by_header.json()["email"] == "alice@example.com"
    assert by_header.json()["name"] == "Alice"
    by_cookie = client.get("/api/profile", headers={"Cookie": f"__session={token}"})
    assert by_cookie.status_code == 200
    assert by_cookie.json() == by_header.json()


def test_clock_skew_within_five_seconds_is_tolerated(
    client: TestClient, session_token: Callable[..., str]
) -> None:
    now = int(time.time())
    just_expired = session_token(exp=now - 2, iat=now - 60, nbf=now - 60)
    almost_valid = session_token(nbf=now + 2)
    for token in (just_expired, almost_valid):
        assert client.get("/api/profile", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_bearer_token_wins_over_the_cookie(client: TestClient, session_token: Callable[..., str]) -> None:
    response = client.get(
        "/api/profile",
        headers={
            "Authorization": f"Bearer {session_token('user_bob')}",
            "Cookie": f"__session={session_token()}",
        },
    )
    assert response.json()["id"] == "user_bob"


@pytest.mark.parametrize(
    "organization", [{"org_id": "org_acme"}, {"o": {"id": "org_acme", "rol": "admin"}, "v": 2}]
)
def test_an_organization_session_acts_for_the_organization(
    client: TestClient, as_user: Callable[..., dict[str, str]], organization: dict[str, Any]
) -> None:
    alice_in_acme = as_user("user_alice", **organization)
    created = client.post("/api/proxy-endpoints", json={"name": "team"}, headers=alice_in_acme).json()
    # Bob, in the same organization, sees it; Alice on her own does not.
    bob_in_acme = client.get("/api/proxy-endpoints", headers=as_user("user_bob", org_id="org_acme")).json()
    assert [item["id"] for item in bob_in_acme["items"]] == [created["id"]]
    assert client.get("/api/proxy-endpoints", headers=as_user("user_alice")).json()["items"] == []
    audit = client.get("/api/audit-logs", headers=alice_in_acme).json()["items"]
    assert audit[0]["org_id"] == "org_acme" and audit[0]["user_id"] == "user_alice"
    # The profile stays the person's own.
    assert client.get("/api/profile", headers=alice_in_acme).json()["id"] == "user_alice"


def test_sessions_are_refused_when_clerk_is_not_configured(
    api_settings: Settings, session_token: Callable[..., str]
) -> None:
    app = create_app(api_settings.model_copy(update={"clerk_jwt_key": None, "clerk_jwks_url": None}))
    with TestClient(app) as client:
        response = client.get("/api/profile", headers={"Authorization": f"Bearer {session_token()}"})
    assert response.status_code == 401


@pytest.mark.parametrize("missing", ["CLERK_ISSUER", "CLERK_AUTHORIZED_PARTIES"])
@pytest.mark.parametrize("key_source", ["CLERK_JWT_KEY", "CLERK_JWKS_URL"])
def test_start_up_fails_when_clerk_is_configured_without_issuer_or_parties(
    clerk_key: SigningKey, monkeypatch: pytest.MonkeyPatch, key_source: str, missing: str
) -> None:
    configured = {
        key_source: clerk_key.public_pem if key_source == "CLERK_JWT_KEY" else "https://clerk.test/jwks",
        "CLERK_ISSUER": ISSUER,
        "CLERK_AUTHORIZED_PARTIES": DASHBOARD,
    }
    for name, value in configured.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(missing)
    with pytest.raises(ValidationError, match="CLERK_ISSUER or CLERK_AUTHORIZED_PARTIES is not set"):
        Settings()


@pytest.mark.parametrize("missing", ["clerk_issuer", "clerk_authorized_parties"])
def test_the_app_refuses_settings_made_in_code_without_issuer_or_parties(
    api_settings: Settings, missing: str
) -> None:
    with pytest.raises(ValueError, match="CLERK_ISSUER or CLERK_AUTHORIZED_PARTIES is not set"):
        create_app(api_settings.model_copy(update={missing: None}))


# --- JWKS -------------------------------------------------------------------------------------


class JwksServer:
    """A stand-in for Clerk's JWKS endpoint on a real local port, counting fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        self.failing = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                body = json.dumps({"keys": server.keys}).encode()
                self.send_response(500 if server.failing else 200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def publish(self, key: SigningKey, kid: str) -> None:
        public = load_pem_private_key(key.private_pem, password=None).public_key()
        assert isinstance(public, RSAPublicKey)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
        self.keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.httpd.shutdown()


def test_sessions_verified_against_a_jwks_url(
    api_settings: Settings, jwks_server: JwksServer, clerk_key: SigningKey, foreign_key: SigningKey
) -> None:
    jwks_server.publish(clerk_key, "ins_1")
    app = create_app(
        api_settings.model_copy(update={"clerk_jwt_key": None, "clerk_jwks_url": jwks_server.url})
    )

    def token(key: SigningKey, kid: str) -> dict[str, str]:
        signed = jwt.encode(session_claims(), key.private_pem, algorithm="RS256", headers={"kid": kid})
        return {"Authorization": f"Bearer {signed}"}

    with TestClient(app) as client:
        assert client.get("/api/profile", headers=token(clerk_key, "ins_1")).status_code == 200
        assert client.get("/api/profile", headers=token(clerk_key, "ins_1")).status_code == 200
        assert jwks_server.fetches == 1  # cached
        assert client.get("/api/profile", headers=token(foreign_key, "ins_1")).status_code == 401
        # Unknown key ids right after a fetch do not make a request to Clerk each.
        for _ in range(3):
            assert client.get("/api/profile", headers=token(foreign_key, "ins_evil")).status_code == 401
        assert jwks_server.fetches == 1


def test_jwks_cache_refetches_once_for_a_rotated_key_and_on_expiry(
    jwks_server: JwksServer, clerk_key: SigningKey, foreign_key: SigningKey
) -> None:
    now = [1000.0]
    keys = JwksSigningKeys(jwks_server.url, clock=lambda: now[0])
    jwks_server.publish(clerk_key, "old")
    assert keys.key_for("old") is not None
    assert jwks_server.fetches == 1
    jwks_server.publish(foreign_key, "new")  # Clerk rotates in a new key
    assert keys.key_for("new") is None  # throttled: fetched a moment ago
    now[0] += JwksSigningKeys.REFETCH_INTERVAL_SECONDS
    assert keys.key_for("new") is not None
    assert jwks_server.fetches == 2
    now[0] += 1
    for _ in range(5):
        assert keys.key_for("made-up") is None
    assert jwks_server.fetches == 2
    # Clerk briefly failing keeps the keys already known.
    jwks_server.failing = True
    now[0] += JwksSigningKeys.CACHE_SECONDS
    assert keys.key_for("old") is not None
    assert jwks_server.fetches == 3
