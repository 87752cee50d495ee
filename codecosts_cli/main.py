"""`codecosts <command>`: argparse subcommands; each module adds its own with `register(commands)`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from codecosts_cli import admin, manage, prices, reconcile, redrive, usage


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codecosts", description="Codecosts: see what Claude costs.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    usage.register(commands)
    manage.register(commands)
    redrive.register(commands)
    prices.register(commands)
    admin.register(commands)
    reconcile.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The exit status of the command (the console script exits with it)."""
    args = build_parser().parse_args(argv)
    status: int = args.run(args)
    return status
