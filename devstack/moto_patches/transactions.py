"""For devstack's moto process: DynamoDB transactions that stay fast as the table grows.

moto makes a transaction undoable by deep-copying the whole table first (once per item of the
transaction), without a lock. With the single-table layout every usage record lives in one table, so
each ingest would copy thousands of items, and a rate-limit counter updated meanwhile breaks the copy
("dictionary changed size during iteration"). Installed in devstack's moto process (or, with
`installed()`, in the tests' own moto for the length of one long test), this keeps moto's own
transaction code and its all-or-nothing outcome, but undoes a failed transaction by restoring only
the items it touched, one transaction at a time. Nothing of the project is patched.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Iterator
from typing import Any

from moto.dynamodb import models
from moto.dynamodb.models.table import Table

_ONE_AT_A_TIME = threading.Lock()


class _TablesAreNotCopied:
    """Stands in for the `copy` module inside moto.dynamodb.models: a Table is not copied."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _key(backend: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def install() -> None:
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _ONE_AT_A_TIME:
            before = []
            for entry in transact_items:
                op_type, op = next(iter(entry.items()))
                key = _key(self, op_type, op)
                current = self.get_item(op["TableName"], key)
                before.append(
                    (op["TableName"], key, None if current is None else current.to_json()["Attributes"])
                )
            try:
                original(self, transact_items)
            except Exception:
                for table_name, key, attributes in reversed(before):
                    if attributes is None:
                        self.delete_item(table_name, key)
                    else:
                        self.put_item(table_name, attributes)
                raise

    models.copy = _TablesAreNotCopied  # type: ignore[assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Installed for a while in this process's moto (the tests' own), then moto's code again."""
    saved = models.copy, models.DynamoDBBackend.transact_write_items
    install()
    try:
        yield
    finally:
        models.copy, models.DynamoDBBackend.transact_write_items = saved  # type: ignore[method-assign]
