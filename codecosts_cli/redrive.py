"""`codecosts redrive-dlq`: sends the usage messages parked in the dead-letter queue back for ingest.

A message lands in the dead-letter queue after five failed receives: either the ingest could not
store it (the table throttled or failed: the message itself is fine) or no ingest can read it (not
JSON, an unknown schema version). Each message is checked with the ingest's own parser; the readable
ones go back to the usage queue and leave the dead-letter queue, the others stay and are reported
with the reason. Sending one twice is harmless: the ingest writes a record once.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from shared import aws
from shared.settings import get_settings
from shared.usage_event import RejectedMessage, parse_usage_message

# Receive with this visibility timeout so a message is looked at once per run.
_HOLD_SECONDS = 120


@dataclass
class RedriveReport:
    redriven: list[str] = field(default_factory=list)  # message ids
    left: list[tuple[str, str]] = field(default_factory=list)  # (message id, why it stays)


def redrive_dead_letters(
    sqs: Any,
    dead_letter_queue_url: str,
    queue_url: str,
    *,
    dry_run: bool = False,
    max_messages: int = 10_000,
    wait_seconds: int = 1,
) -> RedriveReport:
    """Moves every readable message (at most `max_messages`) back to the usage queue."""
    report = RedriveReport()
    held: list[str] = []  # receipt handles of the messages left, shown again once the run ends
    try:
        while len(report.redriven) + len(report.left) < max_messages:
            reply = sqs.receive_message(
                QueueUrl=dead_letter_queue_url,
                MaxNumberOfMessages=min(10, max_messages - len(report.redriven) - len(report.left)),
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=_HOLD_SECONDS,
            )
            messages = reply.get("Messages", [])
            if not messages:
                break
            for message in messages:
                try:
                    parse_usage_message(message["Body"])
                except RejectedMessage as rejected:
                    report.left.append((message["MessageId"], rejected.reason))
                    held.append(message["ReceiptHandle"])
                    continue
                if dry_run:
                    report.redriven.append(message["MessageId"])
                    held.append(message["ReceiptHandle"])
                    continue
                # Sent before it is deleted: a failure in between leaves a copy, never a loss.
                sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"])
                sqs.delete_message(QueueUrl=dead_letter_queue_url, ReceiptHandle=message["ReceiptHandle"])
                report.redriven.append(message["MessageId"])
    finally:
        for handle in held:
            sqs.change_message_visibility(
                QueueUrl=dead_letter_queue_url, ReceiptHandle=handle, VisibilityTimeout=0
            )
    return report


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    settings = get_settings()
    missing = [
        name
        for name, value in (
            ("CODECOSTS_USAGE_QUEUE_URL", settings.usage_queue_url),
            ("CODECOSTS_DEAD_LETTER_QUEUE_URL", settings.dead_letter_queue_url),
        )
        if not value
    ]
    if missing:
        print(f"codecosts redrive-dlq: set {' and '.join(missing)}", file=sys.stderr)
        return 2
    assert settings.dead_letter_queue_url and settings.usage_queue_url
    report = redrive_dead_letters(
        aws.sqs(),
        settings.dead_letter_queue_url,
        settings.usage_queue_url,
        dry_run=args.dry_run,
        max_messages=args.max_messages,
    )
    verb = "Would redrive" if args.dry_run else "Redriven to the usage queue"
    print(f"{verb}: {len(report.redriven)}", file=out)
    print(f"Left in the dead-letter queue: {len(report.left)}", file=out)
    for message_id, reason in report.left:
        print(f"  {message_id}: {reason}", file=out)
    return 1 if report.left else 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "redrive-dlq",
        help="send readable usage messages from the dead-letter queue back for ingest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Reads CODECOSTS_USAGE_QUEUE_URL and CODECOSTS_DEAD_LETTER_QUEUE_URL (and the usual AWS "
        "variables). Exit status: 0 all moved, 1 some left (listed with the reason), 2 not configured.",
    )
    parser.add_argument("--dry-run", action="store_true", help="check and report, move nothing")
    parser.add_argument(
        "--max-messages", type=int, default=10_000, help="stop after this many messages (default 10000)"
    )
    parser.set_defaults(run=run)
