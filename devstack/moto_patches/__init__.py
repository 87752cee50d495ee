"""The small patch set that keeps moto fast as the local data grows, and safe under concurrent calls.

Installed only in devstack's own moto process (`python -m devstack.moto_server`), which `make dev`,
`make soak` and `make bench` run; the tests' own moto (tests/conftest.py) is moto as released. Each
patch keeps moto's answers as they are, which tests/devstack/test_moto_patches.py checks against
unpatched moto:

- queues.py: every call on a queue holds that queue's lock (moto's DeleteMessage could drop a message
  sent meanwhile: a usage record lost), and SendMessage, receive and delete no longer walk the whole
  backlog;
- transactions.py: TransactWriteItems no longer deep-copies every table to be undoable;
- items.py: an item is sized once when it is made, not once per attribute (45 times a usage record);
- queries.py: Query and Scan answers written with `json` instead of moto's per-attribute serializer;
- requests.py: moto's service lookup done once, not per request;
- updates.py: an update expression parsed once, not twice per use, and its tree copied by pickle.
"""

from __future__ import annotations

from devstack.moto_patches import items, queries, queues, requests, transactions, updates


def install() -> None:
    queues.install()
    queries.install()
    requests.install()
    transactions.install()
    items.install()
    updates.install()
