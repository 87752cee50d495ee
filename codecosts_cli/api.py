"""The management API as the CLI commands use it: configuration, errors with exit codes, output.

Configuration: `CODECOSTS_URL` (default `http://localhost:3016`, what `make dev` serves; in AWS, the
stack's `ApiUrl` output) and `CODECOSTS_API_KEY` (an `sk_...` key; when unset, the key `make dev`
wrote to `.codecosts/dev.json` in the current directory is used, if there is one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import httpx

DEFAULT_URL = "http://localhost:3016"
DEV_FILE = Path(".codecosts") / "dev.json"

# Exit statuses (also in `codecosts --help`).
OK = 0
FAILED = 1  # the API refused the request (invalid filter, rate limited, ...)
USAGE = 2  # bad command line or missing configuration (argparse uses 2 as well)
NOT_AUTHENTICATED = 3  # the API key was refused
NOT_FOUND = 4
UNAVAILABLE = 5  # the server cannot be reached or failed

EXIT_STATUSES = (
    "exit status: 0 success, 1 the API refused the request, 2 bad usage or configuration, "
    "3 API key refused, 4 not found, 5 server unreachable or failing"
)


class CliError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _api_key() -> str:
    key = os.environ.get("CODECOSTS_API_KEY", "").strip()
    if key:
        return key
    try:
        dev = json.loads(DEV_FILE.read_text())
    except (OSError, ValueError):
        dev = {}
    if isinstance(dev, dict) and isinstance(dev.get("api_key"), str):
        return str(dev["api_key"])
    raise CliError(
        "CODECOSTS_API_KEY is not set: create a key in the dashboard or with `codecosts keys create`, "
        "then `export CODECOSTS_API_KEY=sk_...`",
        USAGE,
    )


class Api:
    def __init__(self, url: str | None = None, api_key: str | None = None, timeout: float = 30.0) -> None:
        # A deployed stack's ApiUrl output ends in /api, where every route already is.
        self.url = (url or os.environ.get("CODECOSTS_URL") or DEFAULT_URL).rstrip("/").removesuffix("/api")
        if not self.url.startswith(("http://", "https://")):
            raise CliError(f"CODECOSTS_URL must start with http:// or https:// (got {self.url!r})", USAGE)
        self.client = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {api_key or _api_key()}", "User-Agent": "codecosts-cli"},
            timeout=timeout,
            trust_env=False,
        )

    def request(self, method: str, path: str, **options: Any) -> Any:
        try:
            response = self.client.request(method, path, **options)
        except httpx.TimeoutException as error:
            raise CliError(
                f"the Codecosts API at {self.url} did not answer in time ({error})", UNAVAILABLE
            ) from error
        except httpx.TransportError as error:
            raise CliError(
                f"cannot reach the Codecosts API at {self.url} ({error or type(error).__name__}). "
                "Is the server running (`make dev`), and is CODECOSTS_URL right?",
                UNAVAILABLE,
            ) from error
        return self._payload(response)

    def _payload(self, response: httpx.Response) -> Any:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.is_success and payload is not None:
            return payload
        message = payload.get("error") if isinstance(payload, dict) else None
        if message is None:
            raise CliError(
                f"{self.url} answered {response.status_code} without a Codecosts reply: "
                "is CODECOSTS_URL the Codecosts server?",
                UNAVAILABLE,
            )
        if response.status_code == 401:
            raise CliError(
                f"the API key was refused ({message}): check CODECOSTS_API_KEY (an sk_... key of "
                f"{self.url} that has not been deleted)",
                NOT_AUTHENTICATED,
            )
        details = payload.get("details")
        if isinstance(details, list):
            message += ": " + "; ".join(
                f"{item.get('field')}: {item.get('message')}" if isinstance(item, dict) else str(item)
                for item in details
            )
        elif details:
            message += f": {details}"
        if response.status_code == 404:
            raise CliError(message, NOT_FOUND)
        if response.status_code == 429:
            raise CliError(f"{message}; retry in {payload.get('retryAfter', '?')} s", FAILED)
        if response.status_code >= 500:
            raise CliError(f"the server failed ({response.status_code} {message})", UNAVAILABLE)
        raise CliError(message, FAILED)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def items(self, path: str, limit: int | None, **params: Any) -> Iterator[dict[str, Any]]:
        """Follows the page cursors until `limit` items (None: all)."""
        cursor = None
        given = 0
        while True:
            page_size = 100 if limit is None else min(100, limit - given)
            page = self.get(path, limit=page_size, cursor=cursor, **params)
            for item in page["items"]:
                yield item
                given += 1
                if limit is not None and given >= limit:
                    return
            cursor = page.get("nextCursor")
            if not cursor:
                return

    def stream(self, path: str, out: Any, **params: Any) -> None:
        """A streamed download (the CSV export), written out as it arrives."""
        query = {k: v for k, v in params.items() if v is not None}
        try:
            with self.client.stream("GET", path, params=query) as response:
                if not response.is_success:
                    response.read()
                    self._payload(response)
                for chunk in response.iter_text():
                    out.write(chunk)
        except httpx.TransportError as error:
            raise CliError(f"cannot reach the Codecosts API at {self.url} ({error})", UNAVAILABLE) from error


# Output.


def money(cents: Any) -> str:
    """Cents (number or decimal string) as dollars: `$12.34`, `$0.0123` below a dollar, and down to
    `$0.000047` for the smallest calls, so a cheap call never reads as free."""
    if cents is None:
        return "?"
    dollars = Decimal(str(cents)) / 100
    if abs(dollars) >= 1:
        return f"${dollars:,.2f}"
    return f"${dollars:.4f}" if abs(dollars) >= Decimal("0.0001") or not dollars else f"${dollars:.6f}"


def count(value: Any) -> str:
    return f"{int(value or 0):,}"


def percent(ratio: Any) -> str:
    return f"{float(ratio or 0) * 100:.1f}%"


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str], out: TextIO, align: str = "") -> None:
    """Columns padded to their widest cell; `align` has an `r` for each right-aligned (number) column."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max([len(header)] + [len(row[i]) for row in cells]) for i, header in enumerate(headers)]
    align = align.ljust(len(headers), "l")
    for row in [list(headers), *cells] if any(headers) else cells:
        line = "  ".join(
            cell.rjust(width) if align[i] == "r" else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        print(line.rstrip(), file=out)


def dump_json(value: Any, out: TextIO) -> None:
    json.dump(value, out, indent=2)
    out.write("\n")


def fail(error: CliError, prog: str = "codecosts") -> int:
    print(f"{prog}: {error.message}", file=sys.stderr)
    return error.status


def runner(command: Callable[[argparse.Namespace, Api, TextIO], int]) -> Callable[[argparse.Namespace], int]:
    """A subcommand's `run`: the command against the configured API, its failure as an exit status."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args, Api(), sys.stdout)
        except CliError as error:
            return fail(error)

    return run
