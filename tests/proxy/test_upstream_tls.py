"""The proxy's own HTTP/1.1 client over TLS, as it talks to Anthropic in production: against a local TLS
server whose certificate a CA made here signs. The certificate is checked (chain and host name), and
a forward proxy in the environment is refused at start-up rather than silently bypassed."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from functions.proxy.app import create_app
from functions.proxy.upstream import forward_proxy_refusal
from shared.settings import get_settings
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.proxy_server import RunningProxy
from tests.fakes.servers import ServerThread
from tests.proxy.support import API_KEY, MESSAGES

UPSTREAM_NAME = "localhost"  # what the certificate names


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    cert_file: Path
    key_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _make_pki(directory: Path) -> Pki:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Codecosts test CA"))
        .issuer_name(_name("Codecosts test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(UPSTREAM_NAME))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(UPSTREAM_NAME)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    pki.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return _make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_upstream(pki: Pki) -> Iterator[tuple[FakeAnthropic, int]]:
    """The fake Anthropic API served over TLS with the test CA's certificate: (the fake, its port)."""
    fake = FakeAnthropic()
    with ServerThread(fake, ssl_certfile=str(pki.cert_file), ssl_keyfile=str(pki.key_file)) as server:
        yield fake, server.port


def _ask(proxy: RunningProxy) -> httpx.Response:
    client = anthropic.Anthropic(api_key=API_KEY, base_url=proxy.base_url, max_retries=0)
    return client.messages.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=20, messages=MESSAGES
    ).http_response


def test_the_upstream_is_reached_over_tls_with_a_trusted_certificate(
    start_proxy: Callable[..., RunningProxy],
    tls_upstream: tuple[FakeAnthropic, int],
    pki: Pki,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake, port = tls_upstream
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    proxy = start_proxy(upstream_url=f"https://{UPSTREAM_NAME}:{port}")
    assert _ask(proxy).status_code == 200
    assert len(fake.requests) == 1
    assert _ask(proxy).status_code == 200  # again, on the kept-alive TLS connection


@pytest.mark.parametrize("case", ["wrong host name", "untrusted CA"])
def test_a_certificate_that_does_not_check_out_is_refused(
    start_proxy: Callable[..., RunningProxy],
    tls_upstream: tuple[FakeAnthropic, int],
    pki: Pki,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    fake, port = tls_upstream
    if case == "wrong host name":
        # Trusted CA, but the certificate names localhost, not 127.0.0.1.
        monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
        upstream = f"https://127.0.0.1:{port}"
    else:
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)  # certifi's roots: the test CA is not one
        upstream = f"https://{UPSTREAM_NAME}:{port}"
    proxy = start_proxy(upstream_url=upstream)
    reply = httpx.post(
        f"{proxy.base_url}/v1/messages",
        json={"model": "claude-haiku-4-5", "max_tokens": 20, "messages": MESSAGES},
        headers={"x-api-key": API_KEY},
    )
    assert reply.status_code == 502
    assert fake.requests == []  # the request was never written to an unverified peer


@pytest.mark.parametrize(
    ("environment", "refused"),
    [
        ({"HTTPS_PROXY": "http://egress.internal:3128"}, True),
        ({"https_proxy": "http://egress.internal:3128"}, True),
        ({"ALL_PROXY": "socks5://egress.internal:1080"}, True),
        ({"HTTPS_PROXY": "http://egress.internal:3128", "NO_PROXY": "api.anthropic.com"}, False),
        ({"HTTPS_PROXY": "http://egress.internal:3128", "NO_PROXY": ".anthropic.com,localhost"}, False),
        ({"HTTPS_PROXY": "http://egress.internal:3128", "NO_PROXY": "*"}, False),
        ({"HTTP_PROXY": "http://egress.internal:3128"}, False),  # http only: Anthropic is https
        ({}, False),
    ],
)
def test_a_forward_proxy_for_the_upstream_is_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], refused: bool
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = get_settings().model_copy(update={"upstream_url": "https://api.anthropic.com"})
    refusal = forward_proxy_refusal(settings.upstream_url)
    failed = asyncio.run(_lifespan_startup(create_app(settings=settings)))
    if refused:
        assert refusal is not None and "api.anthropic.com" in refusal and "NO_PROXY" in refusal
        assert failed == refusal
    else:
        assert refusal is None and failed is None


async def _lifespan_startup(app: Any) -> str | None:
    """Runs the app's start-up as uvicorn does; the failure message, or None when it started."""
    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await messages.put({"type": "lifespan.startup"})
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "lifespan.startup.complete":
            await messages.put({"type": "lifespan.shutdown"})

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, messages.get, send)
    if sent[0]["type"] == "lifespan.startup.failed":
        return str(sent[0]["message"])
    assert sent[0]["type"] == "lifespan.startup.complete"
    return None
