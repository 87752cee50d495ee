"""The usage queue between the proxy and the ingest function, and its dead-letter queue.

Their names are CloudFormation's (USAGE_QUEUE's names are the local stack's): SQS refuses a name for
60 s after its queue is deleted, and a retried deploy must not depend on that. The functions and
`codecosts redrive-dlq` take the URLs from the environment and the stack's outputs.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shared.resources import INGEST_TIMEOUT_SECONDS, USAGE_QUEUE


class Messaging(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # Lambda's guidance: visibility at least six times the consumer's timeout, so retries of a
        # throttled batch do not make a message visible again while it is still being worked on.
        if USAGE_QUEUE.visibility_timeout_seconds < 6 * INGEST_TIMEOUT_SECONDS:
            raise ValueError("the usage queue's visibility timeout must be >= 6x the ingest timeout")
        # A standard queue keeps a message's original enqueue time when it moves to the dead-letter
        # queue: that one keeps messages for the maximum, well past the source's 4 days.
        self.dead_letter_queue = sqs.Queue(
            self,
            "UsageDeadLetterQueue",
            retention_period=Duration.days(14),
            max_message_size_bytes=USAGE_QUEUE.max_message_bytes,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.usage_queue = sqs.Queue(
            self,
            "UsageQueue",
            visibility_timeout=Duration.seconds(USAGE_QUEUE.visibility_timeout_seconds),
            retention_period=Duration.days(4),
            max_message_size_bytes=USAGE_QUEUE.max_message_bytes,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=USAGE_QUEUE.max_receive_count
            ),
        )
