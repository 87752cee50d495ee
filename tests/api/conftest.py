"""Fixtures for the management API: the real app over the embedded AWS, Clerk-like session tokens."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from functions.api.app import create_app
from shared.ids import new_id
from shared.settings import Settings, get_settings
from shared.store.usage_records import Bodies, UsageStore
from shared.usage_record import TOKEN_KINDS, Cents, Tokens, UsageRecord, record_view

ISSUER = "https://clerk.codecosts.test"
DASHBOARD = "https://dashboard.codecosts.test"


@dataclass(frozen=True)
class SigningKey:
    private_pem: bytes
    public_pem: str


def make_signing_key() -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(
        private_pem=private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        public_pem=private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
    )


@pytest.fixture(scope="session")
def clerk_key() -> SigningKey:
    return make_signing_key()


@pytest.fixture(scope="session")
def foreign_key() -> SigningKey:
    return make_signing_key()


def session_claims(sub: str | None = "user_alice", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "iss": ISSUER,
        "azp": DASHBOARD,
        "iat": now,
        "nbf": now - 10,
        "exp": now + 60,
        "sid": "sess_1",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


@pytest.fixture
def session_token(clerk_key: SigningKey) -> Callable[..., str]:
    """A session token as Clerk signs it; keyword arguments override claims (None removes one)."""

    def sign(sub: str | None = "user_alice", **overrides: Any) -> str:
        return jwt.encode(session_claims(sub, **overrides), clerk_key.private_pem, algorithm="RS256")

    return sign


@pytest.fixture
def api_settings(aws: object, clerk_key: SigningKey) -> Settings:
    return get_settings().model_copy(
        update={
            "clerk_jwt_key": clerk_key.public_pem,
            "clerk_issuer": ISSUER,
            "clerk_authorized_parties": f"{DASHBOARD}, http://localhost:3000",
            "public_url": "https://codecosts.test",
        }
    )


@pytest.fixture
def app(api_settings: Settings) -> FastAPI:
    return create_app(api_settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def as_user(session_token: Callable[..., str]) -> Callable[..., dict[str, str]]:
    """Authorization headers for a session of `sub` (optionally in an organization)."""

    def headers(sub: str = "user_alice", **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {session_token(sub, **claims)}"}

    return headers


@pytest.fixture
def alice(as_user: Callable[..., dict[str, str]]) -> dict[str, str]:
    return as_user("user_alice")


@pytest.fixture
def bob(as_user: Callable[..., dict[str, str]]) -> dict[str, str]:
    return as_user("user_bob")


def usage_record(
    tenant_id: str,
    proxy_endpoint_id: str,
    requested_at: datetime,
    model: str = "claude-sonnet-4-5",
    cost_cents: str | None = "1.500000",
    **fields: Any,
) -> UsageRecord:
    """A usage record as the ingest builds one; `fields` may set any field or token kind."""
    tokens = {
        "input_tokens": 100,
        "output_tokens": 20,
        "cache_creation_input_tokens": 1000,
        "cache_read_input_tokens": 5000,
        "cache_creation_1h_input_tokens": 1000,
    }
    tokens.update({kind: fields.pop(kind) for kind in TOKEN_KINDS if kind in fields})
    record = {
        "id": new_id(requested_at),
        "tenant_id": tenant_id,
        "proxy_endpoint_id": proxy_endpoint_id,
        "requested_at": requested_at,
        "model": model,
        "status_code": 200,
        "stream": True,
        "ttfb_ms": 120,
        "duration_ms": 900,
        "request_id": "req_011",
        "api_key_id": "0123456789abcdef",
        "api_key_hint": "sk-ant-api03-...Wxyz",
        "service_tier": "standard",
        "stop_reason": "end_turn",
        "cost_cents": Cents.parse(cost_cents),
        "cost_unknown": cost_cents is None,
        "price_snapshot": "genai-prices test",
        "tokens": Tokens(**tokens),
    }
    return UsageRecord(**{**record, **fields})


@pytest.fixture
def usage_store(api_settings: Settings) -> UsageStore:
    return UsageStore(api_settings.table_name, api_settings.bodies_bucket)


@pytest.fixture
def write_usage(usage_store: UsageStore) -> Callable[..., dict[str, Any]]:
    """Stores a record (with small bodies, kept 30 days from now) and returns it as the API shows it."""

    def write(*args: Any, bodies: Bodies | None = None, **fields: Any) -> dict[str, Any]:
        record = usage_record(*args, **fields)
        kept = bodies or Bodies('{"model":"m","messages":[]}', '{"type":"message"}')
        usage_store.body_store.keep(
            record.tenant_id,
            record.id,
            30,
            None if kept.request_body is None else kept.request_body.encode(),
            None if kept.response_body is None else kept.response_body.encode(),
            in_session=False,
        )
        expire_at = fields.get("bodies_expire_at", int(time.time()) + 30 * 86_400)
        record = replace(record, bodies_expire_at=expire_at, bodies_base=fields.get("bodies_base"))
        assert usage_store.write(record)
        return record_view(record)

    return write
