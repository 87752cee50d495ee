"""`codecosts usage`, `calls`, `tail`, `sessions` and `export`: what was spent, from the management API."""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from codecosts_cli.api import (
    EXIT_STATUSES,
    NOT_FOUND,
    OK,
    Api,
    CliError,
    count,
    dump_json,
    money,
    percent,
    runner,
    table,
)
from shared.usage_record import TOKEN_LABELS, summary_total_name

_SPAN = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def since(text: str, now: datetime | None = None) -> str:
    """`7d`, `12h`, `30m`, `2w` before now, or an ISO date/datetime, as the API's `from`."""
    match = _SPAN.match(text.strip())
    if match:
        moment = (now or datetime.now(UTC)) - timedelta(**{_UNITS[match[2]]: int(match[1])})
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a span (7d, 12h, 30m, 2w) or an ISO date (2026-03-01)"
        ) from None
    return text


def _short_time(timestamp: str | None) -> str:
    return (timestamp or "")[:19].replace("T", " ")


def _session_rows(sessions: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            item["session_id"],
            _short_time(item["last_at"]),
            count(item["requests"]),
            count(item["subagent_requests"]),
            ",".join(item["models"]),
            money(item["cost_cents"]),
            money(item["cache_savings_cents"]),
            percent(item["cache_hit_ratio"]),
        ]
        for item in sessions
    ]


_SESSION_HEADERS = (
    "SESSION",
    "LAST CALL (UTC)",
    "CALLS",
    "SUBAGENT",
    "MODELS",
    "COST",
    "SAVED",
    "CACHE HITS",
)
_SESSION_ALIGN = "llrrlrrr"


def usage_command(args: argparse.Namespace, api: Api, out: TextIO) -> int:
    if args.by == "session":
        sessions = list(
            api.items(
                "/api/usage/sessions", args.limit, **{"from": args.since, "proxy_endpoint_id": args.endpoint}
            )
        )
        if args.json:
            dump_json(sessions, out)
        elif sessions:
            table(_session_rows(sessions), _SESSION_HEADERS, out, _SESSION_ALIGN)
        else:
            print("No Claude Code sessions in that period.", file=out)
        return OK
    summary = api.get("/api/usage/summary", **{"from": args.since, "proxy_endpoint_id": args.endpoint})
    if args.json:
        dump_json(summary if args.by is None else summary[_SUMMARY_LISTS[args.by]], out)
        return OK
    if args.by is None:
        period = f"since {args.since}" if args.since else "all time"
        rows = [
            ["Cost", money(summary["totalCostCents"])],
            ["Calls", count(summary["totalRequests"])],
            *(
                [label, count(summary.get(summary_total_name(kind)))]
                for kind, (label, _) in TOKEN_LABELS.items()
            ),
            ["Cache hit ratio", percent(summary.get("cacheHitRatio"))],
            ["Cost without caching", money(summary.get("totalCostWithoutCacheCents"))],
            ["Saved by caching", money(summary.get("cacheSavingsCents"))],
        ]
        if summary.get("costUnknownRequests"):
            rows.append(["Calls of unknown cost", count(summary["costUnknownRequests"])])
        print(f"Usage {period} (whole UTC days)", file=out)
        table(rows, ("", ""), out, "lr")
        return OK
    entries = summary[_SUMMARY_LISTS[args.by]]
    if args.by == "developer":
        rows = [
            [*_payer(entry), count(entry["requests"]), count(entry["tokens"]), money(entry["cost"])]
            for entry in entries
        ]
        table(rows, ("DEVELOPER", "ID", "CALLS", "TOKENS", "COST"), out, "llrrr")
        return OK
    key = {"model": "model", "day": "date", "endpoint": "proxy_endpoint_id"}[args.by]
    if args.by == "endpoint":
        names = {item["id"]: item["name"] for item in api.items("/api/proxy-endpoints", None)}
        rows = [
            [
                names.get(entry[key], "(deleted)"),
                entry[key],
                count(entry["requests"]),
                count(entry["tokens"]),
                money(entry["cost"]),
            ]
            for entry in entries
        ]
        table(rows, ("ENDPOINT", "ID", "CALLS", "TOKENS", "COST"), out, "llrrr")
        return OK
    rows = [
        [entry[key], count(entry["requests"]), count(entry["tokens"]), money(entry["cost"])]
        for entry in entries
    ]
    table(rows, (args.by.upper(), "CALLS", "TOKENS", "COST"), out, "lrrr")
    return OK


_SUMMARY_LISTS = {"model": "byModel", "day": "byDay", "endpoint": "byEndpoint", "developer": "byDeveloper"}


def _payer(entry: dict[str, Any]) -> tuple[str, str]:
    """Who spent it: the developer (by name once named), else the Anthropic key that paid."""
    if entry["developer_id"]:
        return entry["name"] or "(unnamed)", entry["developer_id"]
    if entry["api_key_id"]:
        return f"key {entry['api_key_hint']}", entry["api_key_id"]
    return "(no key)", ""


_CALL_HEADERS = (
    "TIME (UTC)",
    "ID",
    "MODEL",
    "STATUS",
    *(column for _, column in TOKEN_LABELS.values()),
    "COST",
    "MS",
    "SESSION",
    "AGENT",
)
_CALL_ALIGN = "lllr" + "r" * len(TOKEN_LABELS) + "rrll"


def _tokens(item: dict[str, Any]) -> list[str]:
    """A call's token counts, one a kind; `~` on output estimated from what was relayed (the stream
    ended before Anthropic's final count)."""
    estimated = {"output_tokens": "~" if item.get("output_tokens_estimated") else ""}
    return [estimated.get(kind, "") + count(item.get(kind)) for kind in TOKEN_LABELS]


def _call_row(item: dict[str, Any]) -> list[Any]:
    return [
        _short_time(item["requested_at"]),
        item["id"],
        item["model"] or "?",
        item["status_code"],
        *_tokens(item),
        money(item["cost_cents"]),
        count(item["duration_ms"]),
        (item.get("session_id") or "")[:8],
        item.get("agent") or "",
    ]


def _call_filters(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "from": getattr(args, "since", None),
        "model": args.model,
        "proxy_endpoint_id": args.endpoint,
        "session_id": args.session,
        "api_key_id": args.api_key_id,
        "developer_id": args.developer,
    }


def calls_command(args: argparse.Namespace, api: Api, out: TextIO) -> int:
    calls = list(api.items("/api/usage", args.limit, **_call_filters(args)))
    if args.json:
        dump_json(calls, out)
    elif calls:
        table([_call_row(item) for item in calls], _CALL_HEADERS, out, _CALL_ALIGN)
    else:
        print("No calls match.", file=out)
    return OK


# How far back `tail` looks on each poll: a record can be stored a while after its call was made.
TAIL_LOOKBACK = timedelta(minutes=5)


def tail_command(
    args: argparse.Namespace,
    api: Api,
    out: TextIO,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Prints the last `--lines` calls, then every new one as it is recorded (oldest first)."""
    filters = {**_call_filters(args), "from": None}
    latest = list(api.items("/api/usage", args.lines, **filters)) if args.lines > 0 else []
    baseline = latest or list(api.items("/api/usage", 1, **filters))
    seen: dict[str, str] = {item["id"]: item["requested_at"] for item in baseline}
    printed = 0
    if not args.json:
        table([], _CALL_HEADERS, out, _CALL_ALIGN)

    def show(items: list[dict[str, Any]]) -> None:
        for item in sorted(items, key=lambda record: record["id"]):
            if args.json:
                print(_json_line(item), file=out)
            else:
                print("  ".join(str(cell) for cell in _call_row(item)), file=out)
        out.flush()

    def window_start() -> str | None:
        newest = max(seen.values(), default=None)
        if newest is None:
            return None
        moment = datetime.fromisoformat(newest.replace("Z", "+00:00")) - TAIL_LOOKBACK
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def recent() -> list[dict[str, Any]]:
        """Calls of the look-back window not seen yet (records can be stored out of order)."""
        start = window_start()
        return [
            item
            for item in api.items("/api/usage", None, **{**filters, "from": start})
            if item["id"] not in seen
        ]

    show(latest)
    for item in recent() if seen else ():  # already recorded: not new, not shown
        seen[item["id"]] = item["requested_at"]
    try:
        while args.exit_after is None or printed < args.exit_after:
            sleep(args.interval)
            fresh = sorted(recent(), key=lambda record: record["id"])
            if args.exit_after is not None:
                fresh = fresh[: args.exit_after - printed]
            for item in fresh:
                seen[item["id"]] = item["requested_at"]
            show(fresh)
            printed += len(fresh)
            start = window_start()
            if start:  # forget what has left the look-back window for good
                seen = {key: at for key, at in seen.items() if at >= start}
    except KeyboardInterrupt:
        pass
    return OK


def _json_line(item: dict[str, Any]) -> str:
    return json.dumps(item, separators=(",", ":"))


def sessions_command(args: argparse.Namespace, api: Api, out: TextIO) -> int:
    if args.session_id is None:
        args.by = "session"
        return usage_command(args, api, out)
    session_id = args.session_id
    if session_id == "latest":
        found = list(api.items("/api/usage/sessions", 1))
        if not found:
            raise CliError("no Claude Code session has been recorded yet", NOT_FOUND)
        session_id = found[0]["session_id"]
    session = api.get(f"/api/usage/sessions/{session_id}")
    if args.json:
        dump_json(session, out)
        return OK
    main_calls = session["requests"] - session["subagent_requests"]
    main_cost = float(session["cost_cents"]) - float(session["subagent_cost_cents"])
    rows = [
        ["First call (UTC)", _short_time(session["first_at"])],
        ["Last call (UTC)", _short_time(session["last_at"])],
        ["Models", ", ".join(session["models"])],
        ["Cost", money(session["cost_cents"])],
        ["  main agent", f"{money(main_cost)} in {count(main_calls)} calls"],
        [
            "  subagents",
            f"{money(session['subagent_cost_cents'])} in {count(session['subagent_requests'])} calls "
            f"({count(session['subagent_runs'])} runs)",
        ],
        ["Calls", count(session["requests"])],
        *([label, count(session.get(kind))] for kind, (label, _) in TOKEN_LABELS.items()),
        ["Cache hit ratio", percent(session["cache_hit_ratio"])],
        ["Cost without caching", money(session["cost_without_cache_cents"])],
        ["Saved by caching", money(session["cache_savings_cents"])],
        [
            "1-hour writes never read",
            f"{count(session['unread_1h_cache_write_tokens'])} tokens in "
            f"{count(session['unread_1h_cache_writes'])} calls, "
            f"{money(session['unread_1h_cache_write_extra_cents'])} paid above plain input",
        ],
    ]
    if session.get("pending_1h_cache_write_tokens"):
        rows.append(
            ["  still within their hour", f"{count(session['pending_1h_cache_write_tokens'])} tokens"]
        )
    if session.get("cost_unknown_requests"):
        rows.append(["Calls of unknown cost", count(session["cost_unknown_requests"])])
    print(f"Session {session['session_id']}", file=out)
    table(rows, ("", ""), out)
    return OK


def export_command(args: argparse.Namespace, api: Api, out: TextIO) -> int:
    filters = _call_filters(args)
    if args.output and args.output != "-":
        with open(args.output, "w", encoding="utf-8", newline="") as file:
            api.stream("/api/usage/export.csv", file, **filters)
    else:
        api.stream("/api/usage/export.csv", out, **filters)
    return OK


def _filters(parser: argparse.ArgumentParser, with_since: bool = True) -> None:
    if with_since:
        parser.add_argument(
            "--since", type=since, help="only calls from this long ago: 7d, 12h, 30m, 2w, or an ISO date"
        )
    parser.add_argument("--model", help="model name prefix (claude-opus matches claude-opus-4-6)")
    parser.add_argument("--endpoint", metavar="ID", help="only this proxy endpoint")
    parser.add_argument("--session", metavar="SESSION_ID", help="only this Claude Code session")
    parser.add_argument(
        "--api-key-id", metavar="FINGERPRINT", help="only calls paid by this Anthropic credential"
    )
    parser.add_argument("--developer", metavar="DEVELOPER_ID", help="only this Claude Code developer's calls")


def register(commands: Any) -> None:
    epilog = (
        f"Configured by CODECOSTS_URL (default http://localhost:3016) and CODECOSTS_API_KEY. {EXIT_STATUSES}."
    )

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(
            name, help=help_text, description=help_text, epilog=epilog
        )
        return parser

    usage = add(
        "usage", "cost and tokens over a period, in total or by model, day, endpoint, session or developer"
    )
    usage.add_argument(
        "--since", type=since, default=since("7d"), help="7d (default), 12h, 2w, or an ISO date"
    )
    usage.add_argument(
        "--by",
        choices=("model", "day", "endpoint", "session", "developer"),
        help="break the total down (developer: Claude Code's, other calls by the Anthropic key that paid)",
    )
    usage.add_argument("--endpoint", metavar="ID", help="only this proxy endpoint")
    usage.add_argument(
        "--limit", type=int, default=50, help="sessions to list with --by session (default 50)"
    )
    usage.add_argument("--json", action="store_true", help="the API's JSON instead of a table")
    usage.set_defaults(run=runner(usage_command))

    calls = add("calls", "the latest calls, newest first")
    _filters(calls)
    calls.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    calls.add_argument("--json", action="store_true", help="the API's JSON instead of a table")
    calls.set_defaults(run=runner(calls_command))

    tail = add("tail", "the latest calls, then each new one as it is recorded (Ctrl-C stops)")
    _filters(tail, with_since=False)
    tail.add_argument(
        "--lines", type=int, default=10, help="calls shown before waiting for new ones (default 10)"
    )
    tail.add_argument("--interval", type=float, default=2.0, help="seconds between polls (default 2)")
    tail.add_argument("--exit-after", type=int, metavar="N", help="stop after N new calls")
    tail.add_argument("--json", action="store_true", help="one JSON record per line")
    tail.set_defaults(run=runner(tail_command))

    sessions = add(
        "sessions", "Claude Code sessions; with an id (or `latest`), what that session cost and saved"
    )
    sessions.add_argument("session_id", nargs="?", metavar="SESSION_ID", help="a session id, or `latest`")
    sessions.add_argument(
        "--since", type=since, default=None, help="sessions active since: 7d, 12h, or a date"
    )
    sessions.add_argument("--endpoint", metavar="ID", help="only sessions that used this proxy endpoint")
    sessions.add_argument("--limit", type=int, default=50, help="sessions to list (default 50)")
    sessions.add_argument("--json", action="store_true", help="the API's JSON instead of a table")
    sessions.set_defaults(run=runner(sessions_command))

    export = add("export", "every matching call as CSV (streamed), one row per call")
    _filters(export)
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    export.set_defaults(run=runner(export_command))
