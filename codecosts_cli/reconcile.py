"""`codecosts reconcile`: does what Codecosts recorded match what Anthropic billed; what went around it?"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, TextIO

from codecosts_cli.api import EXIT_STATUSES, OK, Api, count, dump_json, money, runner, table

_DAYS = re.compile(r"^(\d+)d$")
KINDS = (
    ("uncached_input_tokens", "input"),
    ("cache_creation_5m_input_tokens", "5m writes"),
    ("cache_creation_1h_input_tokens", "1h writes"),
    ("cache_read_input_tokens", "cache reads"),
    ("output_tokens", "output"),
    ("web_search_requests", "web searches"),
)


def since_day(text: str, today: date | None = None) -> str:
    """`30d` (whole UTC days back from today) or an ISO date, as the API's `from` (a UTC day)."""
    match = _DAYS.match(text.strip())
    if match:
        return ((today or datetime.now(UTC).date()) - timedelta(days=int(match[1]))).isoformat()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected days (30d) or a date (2026-11-01)") from None


def _token_drift(line: dict[str, Any]) -> str:
    """The kinds whose billed count differs from the recorded one, as `kind +n`."""
    drifts = [
        f"{label} {line['billed'][kind] - line['recorded'][kind]:+,}"
        for kind, label in KINDS
        if line["billed"][kind] != line["recorded"][kind]
    ]
    return ", ".join(drifts) or "-"


def reconcile_command(args: argparse.Namespace, api: Api, out: TextIO) -> int:
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    query = {"from": args.since, "to": tomorrow}
    if args.refresh:
        report = api.request("POST", "/api/reconciliation/refresh", params=query)
    else:
        report = api.get("/api/reconciliation", **query)
    if args.json:
        dump_json(report, out)
        return OK
    totals = report["totals"]
    synced = report["asOf"] or "never (run with --refresh)"
    print(
        f"Bill check {report['from']} to {report['to']} (UTC, `to` excluded); Anthropic synced: {synced}",
        file=out,
    )
    if report["stale"]:
        print(f"WARNING: the last sync failed ({report['error']}); showing the last good data", file=out)
    table(
        [
            ["Recorded", money(totals["recordedCostCents"])],
            ["Billed by Anthropic", money(totals["billedCostCents"])],
            ["Drift (billed - recorded)", money(totals["driftCostCents"])],
            ["Spent around the proxy", money(totals["unrecordedCostCents"])],
        ],
        ["", ""],
        out,
        "lr",
    )
    if report["byDay"]:
        print(file=out)
        rows = [
            [
                d["date"],
                money(d["recordedCostCents"]),
                money(d["billedCostCents"]),
                money(d["driftCostCents"]),
            ]
            for d in report["byDay"]
        ]
        table(rows, ["DAY", "RECORDED", "BILLED", "DRIFT"], out, "lrrr")
    if report["byModel"]:
        print(file=out)
        rows = [
            [
                m["model"],
                money(m["recordedCostCents"]),
                money(m["billedCostCents"]),
                money(m["driftCostCents"]),
                _token_drift(m),
            ]
            for m in report["byModel"]
        ]
        table(rows, ["MODEL", "RECORDED", "BILLED", "DRIFT", "TOKEN DRIFT"], out, "lrrr")
    if report["byKey"]:
        print(file=out)
        rows = [
            [
                k["partial_key_hint"] or k["anthropic_api_key_id"] or "(no key)",
                money(k["recordedCostCents"]),
                money(k["billedCostCents"]),
                "UNRECORDED: never through the proxy" if k["unrecorded"] else "",
            ]
            for k in report["byKey"]
        ]
        table(rows, ["ANTHROPIC KEY", "RECORDED", "BILLED", ""], out, "lrr")
    unrecorded_keys = sum(1 for k in report["byKey"] if k["unrecorded"])
    if unrecorded_keys:
        print(f"\n{count(unrecorded_keys)} key(s) spent without going through Codecosts.", file=out)
    return OK


def register(commands: Any) -> None:
    help_text = "recorded versus billed by Anthropic, by day, model and key; spend that went around the proxy"
    parser: argparse.ArgumentParser = commands.add_parser(
        "reconcile",
        help=help_text,
        description=help_text + ". Needs an Anthropic admin key set (PUT /api/anthropic-admin-key).",
        epilog=f"Configured by CODECOSTS_URL and CODECOSTS_API_KEY. {EXIT_STATUSES}.",
    )
    parser.add_argument(
        "--since", type=since_day, default=since_day("7d"), help="30d, 7d (default), or a date: UTC days"
    )
    parser.add_argument(
        "--refresh", action="store_true", help="sync Anthropic's reports first (at most once a minute)"
    )
    parser.add_argument("--json", action="store_true", help="the API's JSON instead of tables")
    parser.set_defaults(run=runner(reconcile_command))
