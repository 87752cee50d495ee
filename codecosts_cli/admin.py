"""`codecosts admin bootstrap`: the first user, API key and proxy endpoint of a deployed stack.

Run by an operator with their own AWS credentials (the usual chain: environment, profile, SSO) once
`cdk deploy` has finished. The stack's outputs say where its table and server secret are; API-key
hashes are HMACs under that secret, so the key is minted here, written straight to the table, and
printed once. Running it again finds the bootstrapped user and mints nothing, unless `--new-key`.

Needs cloudformation:DescribeStacks on the stack, secretsmanager:GetSecretValue on its server secret
and DynamoDB read/write on its table.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from codecosts_cli.api import FAILED, NOT_FOUND, OK, USAGE, CliError, fail
from shared.bootstrap import Bootstrapped, FirstUser, bootstrap

DEFAULT_STACK = "Codecosts"
ADMIN_USER_ID = "user_admin"
# Statuses in which a stack's outputs describe running resources.
_USABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}


@dataclass(frozen=True)
class DeployedStack:
    """What the command needs from the stack's outputs (infra/stack.py writes them)."""

    table_name: str
    server_secret_arn: str
    proxy_url: str
    api_url: str
    dashboard_url: str | None

    # The outputs read, in infra/stack.py's names (DashboardUrl may be missing from older stacks).
    REQUIRED_OUTPUTS = ("TableName", "ServerSecretArn", "ProxyUrl", "ApiUrl")

    @classmethod
    def from_outputs(cls, stack_name: str, outputs: dict[str, str]) -> DeployedStack:
        missing = [name for name in cls.REQUIRED_OUTPUTS if not outputs.get(name)]
        if missing:
            raise CliError(
                f"stack {stack_name} has no output {', '.join(missing)}: it was deployed by an older "
                "Codecosts; deploy this version (docs/deploy.md), then run this again",
                FAILED,
            )
        return cls(
            table_name=outputs["TableName"],
            server_secret_arn=outputs["ServerSecretArn"],
            proxy_url=outputs["ProxyUrl"].rstrip("/"),
            api_url=outputs["ApiUrl"].rstrip("/"),
            dashboard_url=outputs.get("DashboardUrl") or None,
        )


def read_stack(cloudformation: Any, stack_name: str) -> DeployedStack:
    from botocore.exceptions import ClientError

    try:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        if "does not exist" in message:
            region = cloudformation.meta.region_name
            raise CliError(
                f"no stack {stack_name} in {region}: deploy it first (docs/deploy.md), or pass "
                "--stack-name / --region",
                NOT_FOUND,
            ) from error
        raise CliError(f"cannot read stack {stack_name}: {message}", FAILED) from error
    status = stack["StackStatus"]
    if status == "ROLLBACK_COMPLETE":
        raise CliError(
            f"stack {stack_name} is ROLLBACK_COMPLETE: its first deploy failed. Delete it and deploy "
            "again (docs/deploy.md, 'When the first deploy fails')",
            FAILED,
        )
    if status not in _USABLE:
        raise CliError(f"stack {stack_name} is {status}: wait until its deploy has finished", FAILED)
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    return DeployedStack.from_outputs(stack_name, outputs)


def _report(stack: DeployedStack, result: Bootstrapped, out: TextIO) -> None:
    user, endpoint = result.user, result.endpoint
    lines = [
        f"{'Created' if result.created_user else 'Found'} the bootstrap user "
        f"{user.get('email') or user['id']} ({user['id']}), "
        f"{'created' if result.created_endpoint else 'found'} its proxy endpoint "
        f"{endpoint['name']} ({endpoint['id']}).",
        "",
    ]
    if result.minted_key:
        lines += [
            "Its admin API key, shown this once (keep it somewhere safe):",
            "",
            f"  export CODECOSTS_API_KEY={result.api_key}",
        ]
    else:
        held = ", ".join(f"{key['key_prefix']} ({key['id']})" for key in result.kept_keys)
        lines += [
            f"No key minted: the user already has its admin key {held}, shown when it was created. "
            "`--new-key` mints another.",
            "",
            "  export CODECOSTS_API_KEY=sk_...",
        ]
    lines += [
        f"  export CODECOSTS_URL={stack.api_url}",
        "  codecosts usage",
        "",
        "Point Claude Code (or an Anthropic SDK) at the proxy:",
        "",
        f"  export ANTHROPIC_BASE_URL={stack.proxy_url}/proxy/{endpoint['slug']}",
        "",
        f"API: {stack.api_url}",
    ]
    if stack.dashboard_url:
        lines.append(f"Dashboard: {stack.dashboard_url}  (sign in with the API key)")
    print("\n".join(lines), file=out)


def bootstrap_command(args: argparse.Namespace, out: TextIO) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, NoCredentialsError, NoRegionError

    try:
        # The stores use boto3's default session: pointing it at the region reaches the stack's table.
        boto3.setup_default_session(region_name=args.region)
        stack = read_stack(boto3.client("cloudformation"), args.stack_name)
        secret = boto3.client("secretsmanager").get_secret_value(SecretId=stack.server_secret_arn)
        first = FirstUser(
            user_id=args.user_id,
            email=args.email,
            name=args.name,
            endpoint_name=args.endpoint_name,
            key_name="admin",
            via="codecosts admin bootstrap",
        )
        result = bootstrap(stack.table_name, secret["SecretString"].encode(), first, new_key=args.new_key)
    except NoRegionError as error:
        raise CliError("no AWS region: pass --region or set AWS_REGION", USAGE) from error
    except NoCredentialsError as error:
        raise CliError(
            "no AWS credentials: configure them as for the AWS CLI (aws configure)", USAGE
        ) from error
    except BotoCoreError as error:
        raise CliError(f"AWS failed: {error}", FAILED) from error
    _report(stack, result, out)
    return OK


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from botocore.exceptions import ClientError

    try:
        return bootstrap_command(args, out or sys.stdout)
    except CliError as error:
        return fail(error, "codecosts admin bootstrap")
    except ClientError as error:
        # Access denied on the secret or the table, most likely: AWS's message names the action.
        return fail(CliError(f"AWS refused: {error}", FAILED), "codecosts admin bootstrap")


def register(commands: Any) -> None:
    admin = commands.add_parser("admin", help="operators: set up a deployed stack")
    actions = admin.add_subparsers(dest="action", required=True, metavar="ACTION")
    parser = actions.add_parser(
        "bootstrap",
        help="the first user, API key and proxy endpoint of a deployed stack (safe to run again)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 done (or already done), 1 AWS refused or the stack is not usable, "
        "2 no AWS region or credentials, 4 no such stack.",
    )
    parser.add_argument("--email", help="the user's e-mail address (shown in the dashboard)")
    parser.add_argument("--name", help="the user's name")
    parser.add_argument("--region", help="the stack's AWS region (default: the AWS CLI's)")
    parser.add_argument("--stack-name", default=DEFAULT_STACK, help=f"default {DEFAULT_STACK}")
    parser.add_argument(
        "--user-id",
        default=ADMIN_USER_ID,
        help=f"the user's id, also its tenant (default {ADMIN_USER_ID}); your Clerk user id puts the key "
        "in the tenant you see when signed in with Clerk",
    )
    parser.add_argument(
        "--endpoint-name", default="default", help="the proxy endpoint's name (default: default)"
    )
    parser.add_argument("--new-key", action="store_true", help="mint another admin key even if one exists")
    parser.set_defaults(run=run)
