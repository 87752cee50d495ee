"""For devstack's moto process: less work per request that gives the same answer every time.

Measured with py-spy on the soak's moto process while it ingests (the process is then the loop's
bottleneck, at a full core), two costs repeat for every request, whatever the data:

- to find the service a request is for, moto's server lists its own package directory (a `listdir`
  and an `isdir` for each of some 200 entries), under the lock every request thread takes: about 7 %
  of the process's time;
- a TransactWriteItems (or UpdateItem) request parses each update expression once to check the
  attribute names it uses, and the backend parses it again to apply it: the ingest sends the same
  three expressions, with other values, for every record: about 10 %.

Installed in devstack's moto process, the directory is listed once, and the request layer keeps
the expressions it has parsed (it only reads them; the backend still parses its own copy, which its
validator changes). Nothing of the project is patched, and the tests' own moto is untouched.
"""

from __future__ import annotations

import functools
from typing import Any

from moto import backends
from moto.dynamodb import responses

_PARSED_KEPT = 256


class _ParsedOnce:
    """Stands in for UpdateExpressionParser inside moto.dynamodb.responses, where a parsed expression
    is only read: the same expression is parsed once (a failing one every time, as before)."""

    def __init__(self, parser: Any) -> None:
        self.make = functools.lru_cache(maxsize=_PARSED_KEPT)(parser.make)


def install() -> None:
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]
    responses.UpdateExpressionParser = _ParsedOnce(responses.UpdateExpressionParser)  # type: ignore[assignment,misc]
