"""Header values with control characters never reach Anthropic: a CR or LF written upstream would let a
caller add headers, or a request, of its own on the proxy's connection. Sent over a raw socket, since
httpx refuses to send them."""

from __future__ import annotations

import json
import socket

import pytest

from functions.proxy.app import create_app
from shared.settings import get_settings
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.proxy_server import RunningProxy
from tests.fakes.servers import ServerThread
from tests.reliability.support import REQUEST

# C0 but tab, and DEL; CR and LF are the injection itself.
CONTROL_BYTES = [bytes([byte]) for byte in (*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F)]


def _exchange(url: str, request: bytes) -> tuple[int, bytes]:
    """Sends `request` byte for byte; the reply's status and body (the request asks the server to
    close the connection after it, so the reply ends there, however it is framed)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _request(slug: str, header: bytes) -> bytes:
    return (
        f"POST /proxy/{slug}/v1/messages HTTP/1.1\r\nhost: proxy\r\nconnection: close\r\n"
        "content-type: application/json\r\n"
        f"x-api-key: sk-ant-api03-header-bytes\r\ncontent-length: {len(REQUEST)}\r\n".encode()
        + header
        + b"\r\n\r\n"
        + REQUEST
    )


@pytest.mark.parametrize("parser", ["httptools", "h11"])
def test_a_header_value_with_a_control_character_is_refused_before_the_upstream(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic, parser: str
) -> None:
    # As run.sh runs it (uvicorn picks httptools), and under h11, which lets most of these bytes through.
    app = create_app(settings=get_settings().model_copy(update={"upstream_url": fake_upstream.url}))
    with ServerThread(app, http=parser, server_header=False) as server:
        reached_the_app = 0
        for byte in CONTROL_BYTES:
            for header in (b"anthropic-beta: a" + byte + b"b", b"x-stainless-os: " + byte + b"Linux"):
                status, body = _exchange(server.url, _request(proxy_server.slug, header))
                assert status == 400, (byte, header)
                if body.startswith(b"{"):  # the server's parser let it through: the proxy refused it
                    reached_the_app += 1
                    assert json.loads(body) == {
                        "type": "error",
                        "error": {
                            "type": "invalid_request_error",
                            "message": "A request header carries a control character; nothing was sent "
                            "to Anthropic.",
                        },
                    }
        assert fake_upstream.requests == []
        # A tab is allowed in a header value, and goes through.
        status, _ = _exchange(server.url, _request(proxy_server.slug, b"anthropic-beta: a\tb"))
        assert status == 200 and len(fake_upstream.requests) == 1
    if parser == "h11":
        assert reached_the_app > 0  # so the proxy's own check was exercised
