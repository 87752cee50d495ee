"""The functions behind the Lambda Web Adapter, started as the adapter starts them with what the
synthesized template tells them: ready on a clone where the dashboard was never built, without a
DynamoDB write for any readiness probe; and a clear failure when a function never gets ready."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from devstack.adapter import REPO_ROOT, AdaptedFunction, FunctionNotReady, ReadinessCheck
from devstack.rehearsal import Rehearsal
from shared.hosting import READINESS_CHECK_PATH

API_RUN_SCRIPT = REPO_ROOT / "functions" / "api" / "run.sh"
PROXY_RUN_SCRIPT = REPO_ROOT / "functions" / "proxy" / "run.sh"


@pytest.fixture
def environment_of(aws: Rehearsal, moto_endpoint: str) -> Any:
    """`environment_of("usage_export")`: what that function runs with in its own process: the
    template's `Environment.Variables` resolved locally by the rehearsal, and its role's credentials.
    Nothing is added that the stack does not pass."""

    def environment(function: str) -> dict[str, str]:
        return aws.functions[function].process_environment(moto_endpoint)

    return environment


@pytest.fixture
def bundle_without_dashboard(tmp_path: Path) -> Path:
    """The API bundle's code as on a fresh clone: `functions/` and `shared/`, no `functions/api/static/`."""
    ignored = shutil.ignore_patterns("static", "__pycache__", "node_modules")
    shutil.copytree(REPO_ROOT / "functions", tmp_path / "functions", ignore=ignored)
    shutil.copytree(REPO_ROOT / "shared", tmp_path / "shared", ignore=ignored)
    return tmp_path


def _items_in(table_name: str, moto_endpoint: str) -> int:
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_endpoint)
    return int(dynamodb.scan(TableName=table_name, Select="COUNT")["Count"])


def test_the_export_function_is_ready_without_the_dashboard_and_its_probes_write_nothing(
    environment_of: Any, bundle_without_dashboard: Path, aws: Rehearsal, moto_endpoint: str
) -> None:
    environment = environment_of("usage_export")
    with AdaptedFunction(
        "usage_export", API_RUN_SCRIPT, environment, task_root=bundle_without_dashboard
    ) as export:
        assert _items_in(aws.table_name, moto_endpoint) == 0
        # `/`, the adapter's default check, answers 503 here: with it the function never got ready.
        assert httpx.get(export.url + "/").status_code == 503
        assert httpx.get(export.url + READINESS_CHECK_PATH).json() == {"status": "ready"}
        # A client's request is counted by the per-IP limiter: a counted probe would have shown.
        assert _items_in(aws.table_name, moto_endpoint) == 1


def test_the_proxy_function_is_ready_and_its_probes_write_nothing(
    environment_of: Any, aws: Rehearsal, moto_endpoint: str
) -> None:
    with AdaptedFunction("proxy", PROXY_RUN_SCRIPT, environment_of("proxy")) as proxy:
        assert httpx.get(proxy.url + READINESS_CHECK_PATH).json() == {"status": "ready"}
        assert _items_in(aws.table_name, moto_endpoint) == 0


def test_the_proxy_runs_its_snapstart_hooks_and_warms_up_without_writing(
    environment_of: Any, aws: Rehearsal, moto_endpoint: str
) -> None:
    environment = environment_of("proxy")
    before = environment["AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH"]
    with AdaptedFunction("proxy", PROXY_RUN_SCRIPT, environment) as proxy:
        # Started as a restored environment: both hooks ran. Asked again before any call, the
        # warm-up says which steps failed: none, under the proxy's own role.
        assert httpx.post(proxy.url + before).json() == {"warmed": True, "failed": []}
        assert httpx.post(proxy.url + environment["AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"]).status_code == 200
        assert _items_in(aws.table_name, moto_endpoint) == 0  # nothing of the warm-up reached AWS
        httpx.post(proxy.url + "/proxy/no-such-slug-0000/v1/messages", content=b"{}")
        # The warm-up answers AWS calls in-process: never once calls are served.
        assert httpx.post(proxy.url + before).status_code == 409


def test_a_failing_snapstart_hook_fails_the_start_as_it_fails_publishing_the_version(
    environment_of: Any,
) -> None:
    environment = {**environment_of("proxy"), "AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH": "/not-a-hook"}
    with pytest.raises(FunctionNotReady) as failure:
        AdaptedFunction("proxy", PROXY_RUN_SCRIPT, environment).start(timeout=30)
    assert "answered its SnapStart before-checkpoint hook POST /not-a-hook with 404" in str(failure.value)


def _adapter_environment(**settings: str) -> dict[str, str]:
    return {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap", **settings}


def _accepts_connections(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_function_whose_readiness_check_never_passes_fails_with_what_it_answered() -> None:
    function = AdaptedFunction(
        "proxy",
        PROXY_RUN_SCRIPT,
        _adapter_environment(
            AWS_LWA_READINESS_CHECK_PATH="/not-a-route", AWS_LWA_READINESS_CHECK_HEALTHY_STATUS="200"
        ),
    )
    with pytest.raises(FunctionNotReady) as failure:
        function.start(timeout=3)
    message = str(failure.value)
    assert "was not ready after 3 s" in message
    assert "GET http://127.0.0.1:" in message and "/not-a-route answered 200, and got 404" in message
    assert "Uvicorn running on" in message  # the function's own output
    assert not _accepts_connections(function.port)  # and it was stopped


def test_a_function_that_exits_fails_at_once_with_its_output() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))  # bound, not listening: the probes are refused, uvicorn cannot bind
        port = int(taken.getsockname()[1])
        function = AdaptedFunction("proxy", PROXY_RUN_SCRIPT, _adapter_environment(), port=port)
        with pytest.raises(FunctionNotReady) as failure:
            function.start(timeout=30)
    assert "exited with status 3 before its readiness check passed" in str(failure.value)
    assert "address already in use" in str(failure.value)


def test_a_function_the_adapter_does_not_wrap_is_refused() -> None:
    with pytest.raises(ValueError, match="AWS_LAMBDA_EXEC_WRAPPER is not /opt/bootstrap"):
        AdaptedFunction("proxy", PROXY_RUN_SCRIPT, {"PORT": "8000"})


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"PORT": "8000"}, "GET http://127.0.0.1:8000/ answered 100-499"),
        (
            {"AWS_LWA_PORT": "9000", "PORT": "8000", "AWS_LWA_READINESS_CHECK_PATH": "/ready"},
            "GET http://127.0.0.1:9000/ready answered 100-499",
        ),
        (
            {"AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS": "400", "READINESS_CHECK_PATH": "/up"},
            "GET http://127.0.0.1:8080/up answered 100-399",
        ),
        (
            {
                "AWS_LWA_READINESS_CHECK_HEALTHY_STATUS": "200",
                "AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS": "400",
            },
            "GET http://127.0.0.1:8080/ answered 200",
        ),
        (
            {"AWS_LWA_READINESS_CHECK_PROTOCOL": "TCP", "AWS_LWA_READINESS_CHECK_PORT": "7000"},
            "a TCP connection to 127.0.0.1:7000",
        ),
    ],
)
def test_the_readiness_check_is_read_from_the_environment_as_the_adapter_reads_it(
    settings: dict[str, str], expected: str
) -> None:
    assert ReadinessCheck.from_environment(settings).describe() == expected


def test_healthy_statuses_are_codes_and_inclusive_ranges() -> None:
    check = ReadinessCheck.from_environment({"AWS_LWA_READINESS_CHECK_HEALTHY_STATUS": "200-204, 404"})
    assert check.healthy_codes == {200, 201, 202, 203, 204, 404}
