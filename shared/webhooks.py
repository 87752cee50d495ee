"""Tenants' alert webhooks: only public HTTPS endpoints, called with bounded time and a few retries.

A tenant chooses the URL, so the server calling it must not become a way into the network it runs in
(SSRF): every address the host resolves to must be public (not private, loopback, link-local,
multicast, reserved or unspecified), checked when the URL is set and again at each send, and the
send connects to the very address it checked, so a DNS answer that changes in between (rebinding)
reaches nothing. TLS is still verified against the host's name. Redirects are not followed.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

from shared.observability import logger

MAX_URL_LENGTH = 2048
Resolver = Callable[[str, int], Sequence[str]]
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookRefused(ValueError):
    """The URL may not be called: why, in words a tenant can act on (never echoing the URL)."""


class WebhookFailed(RuntimeError):
    """Every attempt failed; the message says how the last one ended."""


def resolve(host: str, port: int) -> list[str]:
    """Every address the host resolves to (an address literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _public(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_link_local or address.is_unspecified
    )


@dataclass(frozen=True)
class WebhookTarget:
    """A checked URL: where to connect (`address`), and the name TLS and the Host header carry."""

    url: SplitResult
    host: str
    port: int
    address: str

    def pinned_url(self) -> str:
        literal = f"[{self.address}]" if ":" in self.address else self.address
        return self.url._replace(netloc=f"{literal}:{self.port}").geturl()


class WebhookPolicy:
    def __init__(self, allow_loopback: bool = False, resolver: Resolver = resolve) -> None:
        self.allow_loopback = allow_loopback
        self.resolver = resolver

    def check(self, url: str) -> WebhookTarget:
        """The target to connect to, or WebhookRefused saying why not."""
        if len(url) > MAX_URL_LENGTH:
            raise WebhookRefused(f"At most {MAX_URL_LENGTH} characters")
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise WebhookRefused("Not a URL") from None
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise WebhookRefused("Must be an https:// URL")
        if parts.username is not None or parts.password is not None:
            raise WebhookRefused("Must not carry a user name or password")
        try:
            addresses = [ipaddress.ip_address(found) for found in self.resolver(parts.hostname, port)]
        except (OSError, ValueError):
            raise WebhookRefused("The host does not resolve") from None
        if not addresses:
            raise WebhookRefused("The host does not resolve")
        loopback = self.allow_loopback and all(address.is_loopback for address in addresses)
        if not loopback and not all(_public(address) for address in addresses):
            raise WebhookRefused("The host resolves to a private or reserved address")
        if parts.scheme != "https" and not loopback:
            raise WebhookRefused("Must be an https:// URL")
        return WebhookTarget(parts, parts.hostname, port, str(addresses[0]))


# Worth another attempt: the receiver was unreachable, slow, rate limiting or failing.
_RETRIED_STATUS = {408, 425, 429, 500, 502, 503, 504}


class WebhookSender:
    def __init__(
        self,
        policy: WebhookPolicy,
        timeout: float,
        attempts: int,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy
        self.timeout = timeout
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep

    def send(self, url: str, payload: dict[str, Any], deadline: float | None = None) -> None:
        """POSTs the JSON payload; retries with exponential backoff (0.5 s, 1 s, ...) what may pass on
        a second try. WebhookRefused when the URL fails the policy now, WebhookFailed after the last try,
        or when no further attempt would end by `deadline` (a `time.monotonic()` value)."""
        import httpx  # only a process that sends an alert loads it

        last = "no time left"
        for attempt in range(self.attempts):
            pause = self.backoff_seconds * 2 ** (attempt - 1) if attempt else 0.0
            if deadline is not None and time.monotonic() + pause + self.timeout > deadline:
                break
            if pause:
                self.sleep(pause)
            target = self.policy.check(url)  # again each time: the name may now resolve elsewhere
            try:
                with httpx.Client(timeout=self.timeout, follow_redirects=False, trust_env=False) as client:
                    response = client.post(
                        target.pinned_url(),
                        json=payload,
                        headers={"Host": target.url.netloc, "User-Agent": "Codecosts-Alerts/1"},
                        extensions={"sni_hostname": target.host},
                    )
            except httpx.HTTPError as error:
                last = type(error).__name__
            else:
                if response.is_success:
                    return
                last = f"HTTP {response.status_code}"
                if response.status_code not in _RETRIED_STATUS:
                    break
            logger.warning(
                "Alert webhook attempt failed",
                extra={"host": target.host, "attempt": attempt + 1, "outcome": last},
            )
        raise WebhookFailed(last)
