"""boto3 clients, made once per process and identity (Lambda keeps them warm across invocations).

`AWS_ENDPOINT_URL` (honoured by boto3 itself) points them at the local moto server in `make dev`.

Identity: in Lambda, and in any process that runs one function, clients sign with the default
credential chain (the function's role there; in `make dev`, the credentials of its rehearsed
role). The tests run every function in one process, so each entry point declares which function
is running (`running_as`, a context variable that asyncio tasks and worker threads inherit), and
the local rehearsal registers each function's credentials (`use_function_credentials`): clients
then sign as the function that is running, with exactly its role's grants. Nothing registered, or
no function running: the default chain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=32)

# (access key id, secret access key); None: the default credential chain.
Credentials = tuple[str, str]
_running: ContextVar[str | None] = ContextVar("codecosts_function", default=None)
_registered: dict[str, Credentials] = {}


def use_function_credentials(credentials: Mapping[str, Credentials]) -> None:
    """Function name -> the credentials its clients sign with, where functions share a process."""
    if dict(credentials) == _registered:
        return
    _registered.clear()
    _registered.update(credentials)
    # Clients made before, the default chain's included, may carry an earlier rehearsal's keys.
    for made in (_client, _dynamodb, _table):
        made.cache_clear()


@contextmanager
def running_as(function: str) -> Iterator[None]:
    token = _running.set(function)
    try:
        yield
    finally:
        _running.reset(token)


ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


class RunningAs:
    """ASGI middleware: every request (and the tasks and threads it starts) runs as `function`."""

    def __init__(self, app: ASGIApp, function: str) -> None:
        self.app = app
        self.function = function

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        with running_as(self.function):
            await self.app(scope, receive, send)


def _identity() -> Credentials | None:
    function = _running.get()
    return _registered.get(function) if function else None


def _session(identity: Credentials) -> boto3.Session:
    return boto3.Session(aws_access_key_id=identity[0], aws_secret_access_key=identity[1])


# sqs_without_retries's: one attempt, short timeouts; a constant, so `_client`'s cache keys on it.
_NO_RETRIES = Config(
    retries={"max_attempts": 1, "mode": "standard"},
    connect_timeout=2,
    read_timeout=5,
    max_pool_connections=32,
)


@lru_cache(maxsize=64)
def _client(service: Any, identity: Credentials | None, config: Config = _CONFIG) -> Any:
    if identity is None:
        return boto3.client(service, config=config)
    return _session(identity).client(service, config=config)


@lru_cache(maxsize=8)
def _dynamodb(identity: Credentials | None) -> Any:
    if identity is None:
        return boto3.resource("dynamodb", config=_CONFIG)
    return _session(identity).resource("dynamodb", config=_CONFIG)


@lru_cache(maxsize=32)
def _table(name: str, identity: Credentials | None) -> Any:
    # Building a Table resource re-reads its model (about 1 ms of CPU): once per name, not per call.
    return _dynamodb(identity).Table(name)


def dynamodb() -> Any:
    return _dynamodb(_identity())


def table(name: str) -> Any:
    return _table(name, _identity())


def dynamodb_client() -> Any:
    """The resource's own client: it takes and returns plain Python values, transactions included."""
    return dynamodb().meta.client


def dynamodb_typed() -> Any:
    """DynamoDB's own client, values typed as the API has them (`{"N": "1"}`): without the resource
    layer's conversions (a quarter of a small call's CPU), for hot calls on simple items."""
    return _client("dynamodb", _identity())


def sqs() -> Any:
    return _client("sqs", _identity())


def sqs_without_retries() -> Any:
    """For callers that retry themselves, briefly: the proxy holds a caller's response open meanwhile."""
    return _client("sqs", _identity(), _NO_RETRIES)


def s3() -> Any:
    return _client("s3", _identity())


def secrets_manager() -> Any:
    return _client("secretsmanager", _identity())


def kms() -> Any:
    return _client("kms", _identity())


def sns() -> Any:
    return _client("sns", _identity())
