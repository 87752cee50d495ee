"""The one pooled HTTP client per process that talks to Anthropic.

Made on first use, inside the running event loop, so the same app needs no lifespan hook under
uvicorn locally and under the Lambda Web Adapter (where warm invocations reuse its connections).
"""

from __future__ import annotations

import httpx

from shared.settings import Settings

MESSAGES_PATH = b"/v1/messages"
COUNT_TOKENS_PATH = b"/v1/messages/count_tokens"


class Upstream:
    def __init__(self, settings: Settings) -> None:
        self._base = httpx.URL(settings.upstream_url)
        self._prefix = self._base.raw_path.rstrip(b"/")
        self._timeout = httpx.Timeout(
            connect=settings.upstream_connect_timeout,
            read=settings.upstream_read_timeout,
            write=settings.upstream_connect_timeout,
            pool=settings.upstream_connect_timeout,
        )
        self._client: httpx.AsyncClient | None = None

    def url(self, path: bytes, query_string: bytes) -> httpx.URL:
        """Host and path come from configuration; the caller supplies only the query, kept byte-exact
        (httpx percent-encodes the few bytes a query may not contain, such as `"` or `<`).

        Raises `httpx.InvalidURL` or `UnicodeDecodeError` for a query no URL can carry.
        """
        target = self._prefix + path
        if query_string:
            target += b"?" + query_string
        return self._base.copy_with(raw_path=target)

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            client = httpx.AsyncClient(
                timeout=self._timeout,
                follow_redirects=False,
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=32),
            )
            # Only the caller's forwarded headers go upstream, not httpx's defaults (user-agent, accept).
            client.headers.clear()
            self._client = client
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
