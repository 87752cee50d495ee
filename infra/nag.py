"""cdk-nag (AwsSolutions) findings that are accepted on purpose: each one with its reason, in code."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Accepts finding `rule` (e.g. `AwsSolutions-IAM5[Resource::*]`) on `scope` and what it contains."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))
