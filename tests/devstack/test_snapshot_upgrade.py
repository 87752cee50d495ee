"""A make dev snapshot saved before every index sorted on `gsisk` loads into the new layout."""

from __future__ import annotations

from devstack.moto_server import upgraded


def test_an_item_keeps_its_index_sort_key_under_the_one_name() -> None:
    record = {
        "pk": {"S": "TENANT#t#U#0"},
        "sk": {"S": "USAGE#01J"},
        "gsi1pk": {"S": "TENANT#t#EP#e#0"},
        "gsi1sk": {"S": "USAGE#01J"},
        "gsi3pk": {"S": "TENANT#t#SESSION#s"},
        "gsi3sk": {"S": "USAGE#01J"},
    }
    assert upgraded(record) == {
        "pk": {"S": "TENANT#t#U#0"},
        "sk": {"S": "USAGE#01J"},
        "gsi1pk": {"S": "TENANT#t#EP#e#0"},
        "gsi3pk": {"S": "TENANT#t#SESSION#s"},
        "gsisk": {"S": "USAGE#01J"},
    }
    session = {"pk": {"S": "TENANT#t#S#1"}, "gsi3pk": {"S": "TENANT#t#SESSIONS#1"}, "gsi3sk": {"S": "2026#s"}}
    assert upgraded(session)["gsisk"] == {"S": "2026#s"}
    current = {"pk": {"S": "x"}, "gsisk": {"S": "y"}}
    assert upgraded(current) is current
