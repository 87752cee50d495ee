"""`codecosts prices <model>`: the per-million prices, tiers and multipliers the server applies."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from codecosts_cli.api import EXIT_STATUSES, OK, Api, dump_json, runner, table


def _usd(price: dict[str, Any] | None) -> str:
    return "-" if price is None else f"${price['usd']}"


def _tiers(price: dict[str, Any]) -> str:
    return ", ".join(f"${tier['usd']} over {tier['above_input_tokens']:,}" for tier in price["tiers"]) or "-"


def prices_command(args: argparse.Namespace, api: Api, out: TextIO) -> int:
    sheet = api.get("/api/prices", model=args.model)
    if args.json:
        dump_json(sheet, out)
        return OK
    fast = sheet["fast_prices"] or {}
    rows = [
        [key.removesuffix("_mtok").removesuffix("_kcount"), _usd(price), _tiers(price), _usd(fast.get(key))]
        for key, price in sheet["prices"].items()
    ]
    print(f"{sheet['name'] or sheet['model_id']} ({sheet['model_id']}), from {sheet['source']}", file=out)
    print("USD per million tokens (web searches: per thousand); a tier prices the whole call", file=out)
    table(rows, ("PRICE", "STANDARD", "LONG CONTEXT", "FAST"), out, "lrll")
    geo = sheet["multipliers"].get("us_only_inference", "1")
    print(f"US-only inference (inference_geo us): token prices x{geo}", file=out)
    print(f"Price data: {sheet['data_version']} (newest price from {sheet['data_date'] or '?'})", file=out)
    return OK


def register(commands: Any) -> None:
    help_text = "the prices a model's calls are costed at: per-million prices, tiers, fast mode, multipliers"
    parser: argparse.ArgumentParser = commands.add_parser(
        "prices", help=help_text, description=help_text, epilog=f"{EXIT_STATUSES}."
    )
    parser.add_argument("model", help="a model id as sent to Anthropic (claude-sonnet-4-6)")
    parser.add_argument("--json", action="store_true", help="the API's JSON instead of a table")
    parser.set_defaults(run=runner(prices_command))
