"""For devstack's moto process: an item is sized once when it is made, not once per attribute.

moto checks DynamoDB's 400 KB item limit each time an attribute is set, by sizing every attribute
set so far: an item of n attributes is sized n times over. A usage record has about 45 attributes,
so each write spent ~4.5 ms in that check (profiled: 11 of 12 ms per put, 1,000 sizings per item);
restoring a 10,000-record snapshot took over a minute. Here an item being made is sized once, whole,
and refused with moto's own error when that sum is over moto's limit, which is when moto's attribute
by attribute check would refuse it (each attribute only adds to the sum). Setting an attribute
later (an update) keeps moto's own check. Nothing of the project is patched.
"""

from __future__ import annotations

from typing import Any

from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import dynamo_type
from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
from moto.dynamodb.models.utilities import bytesize

_MOTOS_LIMIT = 405_000  # bytes: LimitedSizeDict's, between AWS's documented and measured limits


def install() -> None:
    def make_item(
        item: Any, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]
    ) -> None:
        item.hash_key = hash_key
        item.range_key = range_key
        values = {key: DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + value.size() for key, value in values.items()) > _MOTOS_LIMIT:
            raise ItemSizeTooLarge
        item.attrs = LimitedSizeDict()
        dict.update(item.attrs, values)  # dict's own update: no check per attribute

    dynamo_type.Item.__init__ = make_item  # type: ignore[assignment,method-assign]
