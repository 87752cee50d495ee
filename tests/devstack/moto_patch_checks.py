"""Scripted sessions against moto, with or without devstack's patches, each printing every answer:

    python -m tests.devstack.moto_patch_checks queues moto|patched    # SQS, one call at a time
    python -m tests.devstack.moto_patch_checks threads patched        # SQS, senders and receivers at once
    python -m tests.devstack.moto_patch_checks queries moto|patched   # DynamoDB Query and Scan over HTTP
    python -m tests.devstack.moto_patch_checks writes moto|patched    # DynamoDB transactions and updates

Run by test_moto_patches.py, each in a process of its own: the patches are for devstack's moto
process and must never reach the tests' own moto.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from typing import Any

import boto3
import requests

from devstack import moto_patches

Answers = list[Any]


def queues() -> Answers:
    """A queue with a dead-letter queue: sends, receives, deletes (twice, and a bad handle), redrive."""
    from moto import mock_aws

    answers: Answers = []
    with mock_aws():
        sqs: Any = boto3.client("sqs", region_name="us-east-1")  # Any: the scripts pass plain dicts
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "2"})
        queue = sqs.create_queue(QueueName="q", Attributes={"RedrivePolicy": policy})["QueueUrl"]

        def counts(url: str) -> dict[str, str]:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            return {k: v for k, v in attributes.items() if k.startswith("ApproximateNumber")}

        for i in range(25):
            sqs.send_message(QueueUrl=queue, MessageBody=f"m{i}")
        sqs.send_message(QueueUrl=queue, MessageBody="later", DelaySeconds=60)
        answers.append(counts(queue))
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        answers.append(sorted(m["Body"] for m in got))
        answers.append(counts(queue))
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got[:5])]
        answers.append(sqs.delete_message_batch(QueueUrl=queue, Entries=entries).get("Successful"))
        again = [
            {"Id": "again", "ReceiptHandle": got[0]["ReceiptHandle"]},
            {"Id": "bad", "ReceiptHandle": "x"},
        ]
        reply = sqs.delete_message_batch(QueueUrl=queue, Entries=again)
        answers.append([reply.get("Successful"), [f["Code"] for f in reply.get("Failed", [])]])
        answers.append(counts(queue))
        seen, handles = [], {}
        for _ in range(8):  # visible again at once: received twice, then off to the dead-letter queue
            reply = sqs.receive_message(
                QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["All"]
            )
            for m in reply.get("Messages", []):
                seen.append((m["Body"], m["Attributes"]["ApproximateReceiveCount"]))
                handles[m["Body"]] = m["ReceiptHandle"]
        answers.append(sorted(seen))
        answers.append([counts(queue), counts(dlq)])
        # Handles from before the redrive, in the dead-letter queue and in the queue; one still in flight.
        for url, handle in ((dlq, handles["m10"]), (queue, handles["m11"]), (dlq, got[7]["ReceiptHandle"])):
            try:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
                answers.append("deleted")
            except sqs.exceptions.ReceiptHandleIsInvalid:
                answers.append("invalid")
        answers.append([counts(queue), counts(dlq)])
    return answers


def writes() -> Answers:
    """Transactions and updates as the ingest makes them, repeated, and ones that fail: every answer."""
    from moto import mock_aws

    answers: Answers = []
    with mock_aws():
        dynamodb: Any = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )

        def update(sk: str, cost: str, **extra: Any) -> dict[str, Any]:
            return {
                "Update": {
                    "TableName": "t",
                    "Key": {"pk": {"S": "p"}, "sk": {"S": sk}},
                    "UpdateExpression": "ADD requests :one, cost :cost"
                    " SET #day = :day, seen = if_not_exists(seen, :day)",
                    "ExpressionAttributeNames": {"#day": "day"},
                    "ExpressionAttributeValues": {
                        ":one": {"N": "1"},
                        ":cost": {"N": cost},
                        ":day": {"S": "d"},
                    },
                    **extra,
                }
            }

        def put(sk: str) -> dict[str, Any]:
            item = {"pk": {"S": "p"}, "sk": {"S": sk}, "v": {"S": sk}}
            return {
                "Put": {"TableName": "t", "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
            }

        def attempt(items: list[dict[str, Any]]) -> None:
            try:
                dynamodb.transact_write_items(TransactItems=items)
                answers.append("written")
            except dynamodb.exceptions.ClientError as error:
                reasons = error.response.get("CancellationReasons", [])
                answers.append([error.response["Error"]["Code"], [r.get("Code") for r in reasons]])

        for i in range(5):
            attempt([put(f"r{i}"), update("agg", f"{i}.5"), update("agg2", "1")])
        attempt([put("r1"), update("agg", "100")])  # a repeat: cancelled, nothing changes
        attempt([put("r9"), update("agg", "1", ExpressionAttributeNames={"#day": "day", "#x": "x"})])
        attempt([put("r9"), update("agg", "1", ExpressionAttributeNames={})])
        attempt([put("r9"), update("agg", "1", UpdateExpression="ADD requests :one SET")])
        plain = update("agg", "2")["Update"]
        dynamodb.update_item(**{k: v for k, v in plain.items() if k != "TableName"}, TableName="t")
        # Items of many attributes, one just under moto's size limit and two over it (one by its last
        # attribute alone), put alone and in a batch.
        wide = {f"a{i:02}": {"S": "x" * 9_000} for i in range(44)}
        for sk, extra in (("under", 0), ("over", 9_000), ("last", 100_000)):
            item = {"pk": {"S": "p"}, "sk": {"S": sk}, **wide, "z": {"S": "y" * extra}}
            for alone in (True, False):
                try:
                    if alone:
                        dynamodb.put_item(TableName="t", Item=item)
                    else:
                        dynamodb.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": item}}]})
                    answers.append("put")
                except dynamodb.exceptions.ClientError as error:
                    answers.append([error.response["Error"]["Code"], error.response["Error"]["Message"]])
        # The same expressions again and again with other values (a kept parse, a fresh copy each
        # time), over every kind of clause and function, and ones that fail after a good parse.
        key = {"pk": {"S": "p"}, "sk": {"S": "kinds"}}
        kinds = (
            "SET l = list_append(if_not_exists(l, :empty), :v), m.#n = :s, c = if_not_exists(c, :n) + :n"
            " ADD ss :ss, tally :n REMOVE gone DELETE ds :ss"
        )
        for i in range(3):
            values = {
                ":v": {"L": [{"N": str(i)}]},
                ":empty": {"L": []},
                ":s": {"S": f"s{i}"},
                ":n": {"N": str(i + 1)},
                ":ss": {"SS": [f"x{i}", "y"]},
            }
            if i == 0:
                dynamodb.put_item(TableName="t", Item={**key, "m": {"M": {}}, "gone": {"S": "g"}})
            nested = ("SET l[9].x = :s", {}, {":s": values[":s"]})  # no such element
            for expression, names, given in ((kinds, {"#n": "n"}, values), (kinds, {}, values), nested):
                try:
                    reply = dynamodb.update_item(
                        TableName="t",
                        Key=key,
                        UpdateExpression=expression,
                        ExpressionAttributeValues=given,
                        **({"ExpressionAttributeNames": names} if names else {}),
                        ReturnValues="ALL_NEW",
                    )
                    answers.append(reply["Attributes"])
                except dynamodb.exceptions.ClientError as error:
                    answers.append([error.response["Error"]["Code"], error.response["Error"]["Message"]])
        items = dynamodb.scan(TableName="t")["Items"]
        answers.append(sorted(items, key=lambda item: item["sk"]["S"]))
    return answers


def threads() -> Answers:
    """Two senders and three receivers at once, as the soak's proxy and pollers use its moto server."""
    from moto.sqs.models import sqs_backends

    backend = sqs_backends["123456789012"]["us-east-1"]
    backend.create_queue("q", VisibilityTimeout="300")
    received: list[str] = []
    errors: list[str] = []
    sent = threading.Event()

    def send(first: int) -> None:
        for i in range(first, first + 2500):
            backend.send_message("q", f"m{i}")

    def receive() -> None:
        while True:
            try:
                messages = backend.receive_message("q", 10, 0, 300)
                for message in messages:
                    received.append(message.body)
                    backend.delete_message("q", str(message.receipt_handle))
            except Exception as error:
                errors.append(type(error).__name__)
                continue
            if sent.is_set() and not messages:
                return

    senders = [threading.Thread(target=send, args=(n * 2500,)) for n in range(2)]
    receivers = [threading.Thread(target=receive) for _ in range(3)]
    for thread in senders + receivers:
        thread.start()
    for thread in senders:
        thread.join()
    sent.set()
    for thread in receivers:
        thread.join()
    return [len(received), len(set(received)), len(backend.get_queue("q")._messages), sorted(set(errors))]


def queries() -> Answers:
    """Queries and scans over every kind of attribute value, answered over HTTP: status, type, body."""
    from moto.server import ThreadedMotoServer

    from tests.conftest import free_port

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False).start()
    url = f"http://127.0.0.1:{port}"
    dynamodb: Any = boto3.client("dynamodb", endpoint_url=url)
    key = [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "gs", "KeyType": "RANGE"}]
    dynamodb.create_table(
        TableName="t",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "g", "gs")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {"IndexName": "gsi", "KeySchema": key, "Projection": {"ProjectionType": "ALL"}}
        ],
    )
    for i in range(30):
        item: dict[str, Any] = {
            "pk": {"S": "p"},
            "sk": {"S": f"s{i:03}"},
            "g": {"S": "g"},
            "gs": {"S": f"{i:03}"},
            "n": {"N": str(i)},
            "f": {"N": "1.500000"},
            "neg": {"N": "-0.25"},
            "t": {"BOOL": i % 2 == 0},
            "z": {"NULL": True},
            "ss": {"SS": ["a", "b"]},
            "ns": {"NS": ["1", "2.5"]},
            "e": {"S": ""},
            "m": {"M": {"a": {"S": 'é \u2028 "q" \\ \x01'}, "b": {"L": [{"N": "1"}, {"S": "x"}, {"M": {}}]}}},
            "big": {"S": "x" * 50_000},  # 30 of them: more than one page of a megabyte
        }
        if i % 10 == 0:
            item.update(b={"B": b"\x00binary"}, bs={"BS": [b"a", b"b"]})
        dynamodb.put_item(TableName="t", Item=item)
    signed = "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/dynamodb/aws4_request, Signature=x"
    answers: Answers = []

    def call(operation: str, body: dict[str, Any]) -> None:
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": signed,
            "X-Amz-Target": f"DynamoDB_20120810.{operation}",
        }
        reply = requests.post(url, data=json.dumps(body), headers=headers, timeout=30)
        answers.append([reply.status_code, reply.headers.get("Content-Type"), json.loads(reply.text)])

    query = {
        "TableName": "t",
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "p"}},
    }

    def after(sk: str) -> dict[str, Any]:
        return {"ExclusiveStartKey": {"pk": {"S": "p"}, "sk": {"S": sk}}}

    call("Query", {**query, "Limit": 5})
    call("Query", {**query, "Limit": 5, **after("s004"), "ReturnConsumedCapacity": "TOTAL"})
    call("Query", {**query, "Limit": 9, **after("s000")})
    call("Query", {**query, "Select": "COUNT"})
    call("Query", {**query, "ProjectionExpression": "sk, m.a"})
    call(
        "Query",
        {
            "TableName": "t",
            "IndexName": "gsi",
            "KeyConditionExpression": "g = :g AND gs > :x",
            "ExpressionAttributeValues": {":g": {"S": "g"}, ":x": {"S": "020"}},
            "ScanIndexForward": False,
            "ReturnConsumedCapacity": "INDEXES",
        },
    )
    above = {"FilterExpression": "n > :n", "ExpressionAttributeValues": {":n": {"N": "11"}}}
    call("Scan", {"TableName": "t", "Limit": 3, **above})
    call("Scan", {"TableName": "t"})
    call("Query", {**query, "TableName": "nope"})
    call("Query", {**query, "IndexName": "nope"})
    return answers


if __name__ == "__main__":
    os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    check, mode = sys.argv[1], sys.argv[2]
    if mode == "patched":
        moto_patches.install()  # what devstack/moto_server.py installs
    print(
        json.dumps(
            {"queues": queues, "threads": threads, "queries": queries, "writes": writes}[check](),
            sort_keys=True,
        )
    )
