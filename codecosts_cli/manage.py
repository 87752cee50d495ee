"""`codecosts endpoints` and `codecosts keys`: the proxy endpoints and Codecosts API keys of the tenant."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from codecosts_cli.api import EXIT_STATUSES, OK, Api, CliError, dump_json, money, runner, table


def _endpoint_row(item: dict[str, Any]) -> list[Any]:
    budget = item.get("monthly_budget_cents")
    return [
        item["id"],
        item["name"],
        item["url"],
        money(item.get("month_spend_cents")),
        "-" if budget is None else f"{money(budget)} ({item.get('budget_action')})",
        "EXCEEDED" if item.get("budget_exceeded") else "",
    ]


_ENDPOINT_HEADERS = ("ID", "NAME", "URL (ANTHROPIC_BASE_URL)", "THIS MONTH", "MONTHLY BUDGET", "")


def endpoints_command(args: argparse.Namespace, api: Api, out: TextIO) -> int:
    if args.action == "list":
        items = list(api.items("/api/proxy-endpoints", None))
        if args.json:
            dump_json(items, out)
        elif items:
            table([_endpoint_row(item) for item in items], _ENDPOINT_HEADERS, out, "lllrl")
        else:
            print("No proxy endpoints yet: `codecosts endpoints create NAME` makes one.", file=out)
        return OK
    if args.action == "create":
        endpoint = api.request("POST", "/api/proxy-endpoints", json={"name": args.name})
        if args.json:
            dump_json(endpoint, out)
        else:
            print(
                f"Created proxy endpoint {endpoint['name']} ({endpoint['id']}). Point Claude Code at it:",
                file=out,
            )
            print(f"\n  export ANTHROPIC_BASE_URL={endpoint['url']}\n", file=out)
        return OK
    if args.action == "delete":
        api.request("DELETE", f"/api/proxy-endpoints/{args.id}")
        if not args.json:
            print(f"Deleted proxy endpoint {args.id} (its usage is kept).", file=out)
        else:
            dump_json({"ok": True}, out)
        return OK
    # budget
    body: dict[str, Any] = {}
    if args.none:
        body["monthly_budget_cents"] = None
    elif args.cents is not None or args.dollars is not None:
        body["monthly_budget_cents"] = args.cents if args.cents is not None else round(args.dollars * 100)
    if args.action_on_exceed:
        body["budget_action"] = args.action_on_exceed
    if not body:
        raise CliError("say what to set: --dollars, --cents or --none (and --action notify|block)", 2)
    endpoint = api.request("PATCH", f"/api/proxy-endpoints/{args.id}", json=body)
    if args.json:
        dump_json(endpoint, out)
    else:
        table([_endpoint_row(endpoint)], _ENDPOINT_HEADERS, out, "lllrl")
    return OK


def keys_command(args: argparse.Namespace, api: Api, out: TextIO) -> int:
    if args.action == "list":
        items = list(api.items("/api/api-keys", None))
        if args.json:
            dump_json(items, out)
        else:
            rows = [
                [
                    item["id"],
                    item["name"],
                    item["key_prefix"],
                    item["scope"],
                    item["created_at"][:19].replace("T", " "),
                    (item.get("last_used_at") or "never")[:19].replace("T", " "),
                ]
                for item in items
            ]
            table(rows, ("ID", "NAME", "PREFIX", "SCOPE", "CREATED (UTC)", "LAST USED (UTC)"), out)
        return OK
    if args.action == "create":
        key = api.request("POST", "/api/api-keys", json={"name": args.name, "scope": args.scope})
        if args.json:
            dump_json(key, out)
        else:
            print(
                f"Created {key['scope']} API key {key['name']} ({key['id']}). It is shown this once only:",
                file=out,
            )
            print(f"\n  {key['key']}\n", file=out)
        return OK
    api.request("DELETE", f"/api/api-keys/{args.id}")
    if args.json:
        dump_json({"ok": True}, out)
    else:
        print(f"Deleted API key {args.id}.", file=out)
    return OK


def register(commands: Any) -> None:
    epilog = f"Configured by CODECOSTS_URL and CODECOSTS_API_KEY. {EXIT_STATUSES}."

    endpoints = commands.add_parser(
        "endpoints",
        help="proxy endpoints: list, create, delete, budget",
        epilog=epilog,
        description="Proxy endpoints: the URLs Claude Code and the SDKs use as ANTHROPIC_BASE_URL.",
    )
    endpoints.set_defaults(run=runner(endpoints_command))
    actions = endpoints.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every endpoint, with this month's spend and budget")
    listing.add_argument("--json", action="store_true")
    create = actions.add_parser("create", help="a new endpoint")
    create.add_argument("name")
    create.add_argument("--json", action="store_true")
    delete = actions.add_parser("delete", help="delete an endpoint (its usage stays)")
    delete.add_argument("id")
    delete.add_argument("--json", action="store_true")
    budget = actions.add_parser(
        "budget",
        help="set or remove a monthly budget",
        description="A monthly (UTC) budget: `notify` only flags the endpoint when this month's spend "
        "reaches it; `block` also makes the proxy refuse new calls (a 429) until the month ends.",
    )
    budget.add_argument("id")
    amount = budget.add_mutually_exclusive_group()
    amount.add_argument("--dollars", type=float, help="the budget in US dollars")
    amount.add_argument("--cents", type=int, help="the budget in US cents")
    amount.add_argument("--none", action="store_true", help="remove the budget")
    budget.add_argument(
        "--action",
        dest="action_on_exceed",
        choices=("notify", "block"),
        help="what reaching it does (default for a new budget: notify)",
    )
    budget.add_argument("--json", action="store_true")

    keys = commands.add_parser(
        "keys",
        help="Codecosts API keys: list, create, delete",
        epilog=epilog,
        description="Codecosts API keys (sk_...), for this CLI and scripts.",
    )
    keys.set_defaults(run=runner(keys_command))
    key_actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    key_list = key_actions.add_parser("list", help="every key (never the secret)")
    key_list.add_argument("--json", action="store_true")
    key_create = key_actions.add_parser("create", help="a new key, shown once")
    key_create.add_argument("name")
    key_create.add_argument(
        "--scope",
        choices=("read", "write", "admin"),
        default="read",
        help="read: usage and reports; write: also endpoints and budgets; admin: also keys (default read)",
    )
    key_create.add_argument("--json", action="store_true")
    key_delete = key_actions.add_parser("delete", help="delete a key: it stops working at once")
    key_delete.add_argument("id")
    key_delete.add_argument("--json", action="store_true")
