"""The stack's outputs hold what `codecosts admin bootstrap` reads to reach a deployed stack."""

from __future__ import annotations

from typing import Any

from codecosts_cli.admin import DeployedStack


def test_the_stack_outputs_what_the_admin_bootstrap_reads(template_json: dict[str, Any]) -> None:
    outputs = template_json["Outputs"]
    assert set(DeployedStack.REQUIRED_OUTPUTS) <= set(outputs)
    resources = template_json["Resources"]
    table = outputs["TableName"]["Value"]["Ref"]
    assert resources[table]["Type"] == "AWS::DynamoDB::Table"
    secret = outputs["ServerSecretArn"]["Value"]["Ref"]
    assert resources[secret]["Type"] == "AWS::SecretsManager::Secret"
