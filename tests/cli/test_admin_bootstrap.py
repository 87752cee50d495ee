"""`codecosts admin bootstrap` against a deployed stack, as an operator runs it.

The stack is a CloudFormation stack in moto that outputs what the real stack outputs (the table, the
server secret's ARN, the proxy, API and dashboard URLs). The API is the real
app on a real port, reading the same table and fetching the secret by its ARN, as in AWS. The command
runs as its own process with nothing but AWS credentials, twice.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from pydantic import SecretStr

from functions.api.app import create_app
from shared.settings import get_settings
from tests.fakes.servers import ServerThread

PROXY_URL = "https://proxy.codecosts.test"
DASHBOARD_URL = "https://dashboard.codecosts.test/v1/"
API_KEY = re.compile(r"\bsk_[A-Za-z0-9_-]{20,}")


@pytest.fixture
def api_url(aws: Any) -> Iterator[str]:
    """The stack's ApiUrl output."""
    # Secrets Manager generates the server secret at deployment (moto's CloudFormation cannot); the
    # stack's own, not the one the rehearsal made (devstack.rehearsal.SERVER_SECRET_NAME).
    secret_arn = boto3.client("secretsmanager").create_secret(
        Name="codecosts-deployed-server-secret", SecretString=secrets.token_urlsafe(48)
    )["ARN"]
    settings = get_settings().model_copy(
        update={"server_secret": SecretStr(""), "server_secret_arn": secret_arn, "public_url": PROXY_URL}
    )
    with ServerThread(create_app(settings)) as api:
        template = {
            "Resources": {"AlarmTopic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {
                "TableName": {"Value": aws.table_name},
                "ServerSecretArn": {"Value": secret_arn},
                "ProxyUrl": {"Value": PROXY_URL},
                "ApiUrl": {"Value": f"{api.url}/api"},
                "DashboardUrl": {"Value": DASHBOARD_URL},
                "AlarmTopicArn": {"Value": {"Ref": "AlarmTopic"}},
            },
        }
        cloudformation = boto3.client("cloudformation")
        cloudformation.create_stack(StackName="Codecosts", TemplateBody=json.dumps(template))
        yield f"{api.url}/api"
        # The aws fixture resets only what the rehearsal makes: the stack is this test's to remove.
        cloudformation.delete_stack(StackName="Codecosts")


def codecosts(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it: AWS credentials from the environment, no Codecosts secret."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CODECOSTS_")}
    return subprocess.run(
        [sys.executable, "-m", "codecosts_cli", *args],
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bootstrap_prints_a_working_key_once_and_a_second_run_mints_nothing(api_url: str) -> None:
    first = codecosts("admin", "bootstrap", "--email", "ops@example.com", "--region", "us-east-1")
    assert first.returncode == 0, first.stderr
    keys = API_KEY.findall(first.stdout)
    assert len(keys) == 1, first.stdout
    key = keys[0]
    slug = re.search(rf"export ANTHROPIC_BASE_URL={re.escape(PROXY_URL)}/proxy/(\S+)", first.stdout)
    assert slug, first.stdout
    assert f"CODECOSTS_URL={api_url}" in first.stdout
    assert f"Dashboard: {DASHBOARD_URL}" in first.stdout

    # The key authenticates against the API, and the CLI takes the ApiUrl output as CODECOSTS_URL.
    api = {"CODECOSTS_URL": api_url, "CODECOSTS_API_KEY": key}
    endpoints = codecosts("endpoints", "list", "--json", **api)
    assert endpoints.returncode == 0, endpoints.stderr
    assert [item["slug"] for item in json.loads(endpoints.stdout)] == [slug.group(1)]
    assert json.loads(endpoints.stdout)[0]["url"] == f"{PROXY_URL}/proxy/{slug.group(1)}"

    second = codecosts("admin", "bootstrap", "--email", "ops@example.com", "--region", "us-east-1")
    assert second.returncode == 0, second.stderr
    assert not API_KEY.findall(second.stdout), second.stdout
    assert "No key minted" in second.stdout and "--new-key" in second.stdout
    assert f"/proxy/{slug.group(1)}" in second.stdout  # the same endpoint, found again

    listed = json.loads(codecosts("keys", "list", "--json", **api).stdout)
    assert [item["name"] for item in listed] == ["admin"]
    assert json.loads(codecosts("endpoints", "list", "--json", **api).stdout)[0]["slug"] == slug.group(1)

    audit = json.loads(codecosts_get(api_url + "/audit-logs", key))
    actions = sorted(entry["action"] for entry in audit["items"])
    assert actions == ["api_key.created", "proxy_endpoint.created", "user.bootstrapped"]
    assert key not in json.dumps(audit)


def test_new_key_mints_another_admin_key(api_url: str) -> None:
    assert codecosts("admin", "bootstrap", "--region", "us-east-1").returncode == 0
    again = codecosts("admin", "bootstrap", "--region", "us-east-1", "--new-key")
    assert again.returncode == 0, again.stderr
    [key] = API_KEY.findall(again.stdout)
    listed = codecosts("keys", "list", "--json", CODECOSTS_URL=api_url, CODECOSTS_API_KEY=key)
    assert [item["name"] for item in json.loads(listed.stdout)] == ["admin", "admin"]


def test_a_missing_stack_is_named_with_its_region(api_url: str) -> None:
    result = codecosts("admin", "bootstrap", "--stack-name", "Elsewhere", "--region", "us-east-1")
    assert result.returncode == 4
    assert "no stack Elsewhere in us-east-1" in result.stderr


def codecosts_get(url: str, key: str) -> str:
    import httpx

    response = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=10, trust_env=False)
    assert response.status_code == 200, response.text
    return response.text
