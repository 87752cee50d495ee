"""For devstack's moto process: Query and Scan answers written as JSON directly.

moto 5.2 writes every answer through a generic serializer that walks the botocore shape of each item
and each attribute in Python. Measured on the soak's table (9,500 usage records and their bodies),
reading the tenant's records took 54 s, of which 78 % was that serializer: the soak's own checks
(every record read, twice, at the end) took nearly three minutes.

A Query or Scan answer is already DynamoDB's JSON (items of attribute values, counts, the last key),
which is what moto before 5.2 returned with `json.dumps`. Installed in devstack's moto process,
this writes those two answers the same way; an answer `json` cannot write (binary attribute values)
and every other operation keep moto's serializer. Nothing of the project is patched, and the
tests' own moto is untouched.
"""

from __future__ import annotations

import json
from typing import Any

from moto.dynamodb import responses

_WRITTEN_DIRECTLY = frozenset({"Query", "Scan"})
_CONTENT_TYPE = "application/x-amz-json-1.0"  # what moto's serializer sends for DynamoDB


def install() -> None:
    execute_result = responses.DynamoResult.execute_result

    def execute_result_directly(result: Any, context: Any) -> Any:
        if context.operation_model.name in _WRITTEN_DIRECTLY:
            try:
                body = json.dumps(result.result, separators=(",", ":"))
            except (TypeError, ValueError):
                pass  # bytes, say: moto's serializer encodes them
            else:
                return 200, {"Content-Type": _CONTENT_TYPE}, body
        return execute_result(result, context)

    responses.DynamoResult.execute_result = execute_result_directly  # type: ignore[assignment,method-assign]
