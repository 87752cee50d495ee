"""The local AWS as a rehearsal of the deployment: built from the synthesized CloudFormation template.

`rehearse()` reads the template and creates, in the local moto server, what it deploys: the table,
the queues, the bodies bucket, the server secret, the KMS keys and their aliases, the SNS topics,
and for each Lambda function an IAM user holding exactly its role's statements (translated for moto,
see `moto_policy`) and that function's environment variables resolved to local values. Then it
turns IAM enforcement on, so a code path calling an action its role lacks fails with AccessDenied
here, as it would in AWS.

The template is the one source: nothing here lists a grant, a variable or a key schema by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import boto3
import requests

from devstack.poller import EventSource
from shared.resources import BODIES_BUCKET, TABLE, USAGE_QUEUE

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_CACHE = ROOT / "build" / "rehearsal"
REGION = "us-east-1"
# moto's default account: the ARNs it hands out carry it.
ACCOUNT = "123456789012"
# The stack lets CloudFormation name the secret; locally it needs one.
SERVER_SECRET_NAME = "codecosts-server-secret"  # noqa: S105 (a name, not a value)
OPERATOR = "codecosts-operator"
# Marks the local KMS key made for a template key (KMS keys have no name to find them by).
_LOGICAL_ID_TAG = "codecosts-rehearsal-logical-id"
USER_PREFIX = "codecosts-"


@dataclass(frozen=True)
class FunctionRole:
    """What one function gets in AWS: its environment and credentials carrying its role's grants."""

    name: str
    environment: dict[str, str]
    access_key_id: str
    secret_access_key: str

    def process_environment(self, endpoint_url: str) -> dict[str, str]:
        """For a child process run as this function: its variables, its identity, the local AWS."""
        return {
            **self.environment,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A template's lifecycle rule (CloudFormation's shape) in the S3 API's shape. The embedded S3
    keeps the rules without running them; tests run them (tests/fakes/lifecycle.py)."""
    tags = [{"Key": tag["Key"], "Value": tag["Value"]} for tag in rule.get("TagFilters", [])]
    prefix = rule.get("Prefix", "")
    converted: dict[str, Any] = {
        "ID": rule["Id"],
        "Status": rule["Status"],
        "Filter": {"And": {"Prefix": prefix, "Tags": tags}} if tags else {"Prefix": prefix},
        "Expiration": {"Days": rule["ExpirationInDays"]},
    }
    if "AbortIncompleteMultipartUpload" in rule:
        converted["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    return converted


@dataclass(frozen=True)
class Rehearsal:
    functions: dict[str, FunctionRole]
    # Full access, as the operator who deployed: the test harness, make dev's bootstrap, snapshots.
    operator_access_key_id: str
    operator_secret_access_key: str
    table_name: str
    usage_queue_url: str
    dead_letter_queue_url: str
    bodies_bucket: str
    # How the ingest is fed from the usage queue (the event source mapping's batching and concurrency).
    event_source: EventSource

    def function_credentials(self) -> dict[str, tuple[str, str]]:
        """For `shared.aws.use_function_credentials`, where the functions share one process."""
        return {name: (role.access_key_id, role.secret_access_key) for name, role in self.functions.items()}


class RehearsalError(RuntimeError):
    """The template holds something the rehearsal cannot reproduce locally: fix it, do not guess."""


# --- the template ---------------------------------------------------------------------------------


def _template_inputs() -> Iterator[Path]:
    yield ROOT / "cdk.json"
    yield ROOT / "shared" / "resources.py"
    yield from sorted(path for path in (ROOT / "infra").rglob("*.py") if "__pycache__" not in path.parts)


def template_hash() -> str:
    digest = hashlib.sha256(version("aws-cdk-lib").encode())
    for path in _template_inputs():
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _synthesize() -> dict[str, Any]:
    """As tests/infra does: placeholder bundles (the template does not depend on their contents)."""
    from infra.app import build_app
    from infra.bundles import BUNDLES

    with tempfile.TemporaryDirectory() as work:
        bundles = Path(work) / "bundles"
        for function in BUNDLES:
            (bundles / function).mkdir(parents=True)
            (bundles / function / "placeholder.txt").write_text(function)
        outdir = Path(work) / "cdk.out"
        app, stack = build_app(context={"bundleDir": str(bundles)}, outdir=str(outdir))
        app.synth()
        template: dict[str, Any] = json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
        return template


@lru_cache(maxsize=1)
def load_template() -> dict[str, Any]:
    """The synthesized template, cached under build/rehearsal/ by a hash of what it is made from (the
    stack's code, its context, the CDK version): synthesis takes ~20 s here, the cache far less."""
    path = TEMPLATE_CACHE / f"{template_hash()}.json"
    if path.exists():
        cached: dict[str, Any] = json.loads(path.read_text())
        return cached
    template = _synthesize()
    TEMPLATE_CACHE.mkdir(parents=True, exist_ok=True)
    for stale in TEMPLATE_CACHE.glob("*.json"):
        stale.unlink()
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(template))
    partial.replace(path)
    return template


# --- reading it -----------------------------------------------------------------------------------


def resources_of_type(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def function_name(resource: Mapping[str, Any]) -> str:
    """The FunctionSpec name ("usage_export"): infra's factory names the Powertools service after it."""
    service = resource["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    return str(service).removeprefix("codecosts-").replace("-", "_")


def role_statements(template: Mapping[str, Any], function: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every statement the function's role holds: inline policies and the AWS::IAM::Policy resources
    attached to it (where CDK puts `add_to_policy` grants, event source grants included)."""
    role_ref = function["Properties"]["Role"]
    if not (isinstance(role_ref, dict) and "Fn::GetAtt" in role_ref):
        raise RehearsalError(f"a function's role is not one of this stack's roles: {role_ref}")
    role_id = role_ref["Fn::GetAtt"][0]
    role = template["Resources"][role_id]["Properties"]
    if role.get("ManagedPolicyArns"):
        raise RehearsalError(f"{role_id} has managed policies, which the rehearsal cannot read")
    statements = [
        statement
        for policy in role.get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    for policy in resources_of_type(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: Mapping[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


# --- the translation for moto ---------------------------------------------------------------------

# AWS authorizes these batch calls with the single action's permission; moto checks the batch name.
_BATCH_ACTIONS = {
    "sqs:SendMessage": "sqs:SendMessageBatch",
    "sqs:DeleteMessage": "sqs:DeleteMessageBatch",
    "sqs:ChangeMessageVisibility": "sqs:ChangeMessageVisibilityBatch",
}
# What AWS checks for each item of a transaction; moto checks the transaction's name instead.
_TRANSACTION_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


def moto_policy(statements: list[dict[str, Any]], local: Mapping[str, _Local]) -> dict[str, Any]:
    """A role's statements as moto 5.2 can enforce them, as AWS would. The whole translation:

    - DynamoDB actions keep their resources, resolved to the local table's ARN (and its indexes'):
      moto itself judges DynamoDB calls against "*", so `judge_dynamodb_by_resource` teaches the moto
      server of this process to judge each call against the table or index it names, as AWS does (a
      Query granted on the indexes alone is refused on the table).
    - Other services' resources widen to "*": moto judges their actions, not their resources as AWS
      does (S3 names objects by their ARNs, but refuses a DeleteObjects of keys under a granted
      prefix, which AWS judges key by key). Their scoping is checked on the synthesized template
      instead (tests/infra/test_roles.py).
    - sqs:SendMessage / DeleteMessage / ChangeMessageVisibility also allow their *Batch calls, which
      AWS authorizes with the single action and moto names by the batch.
    - Transactions (TransactWriteItems, TransactGetItems) are judged item by item, as in AWS: each
      Put/Update/Delete/ConditionCheck/Get needs its PutItem/UpdateItem/DeleteItem/ConditionCheckItem/
      GetItem on the item's table (no statement grants the transaction itself).
    - A Condition or NotAction cannot be reproduced faithfully: refused rather than dropped.
    """
    translated = []
    for statement in statements:
        unsupported = {"Condition", "NotAction", "NotResource", "Principal"} & set(statement)
        if unsupported:
            raise RehearsalError(f"cannot rehearse a statement with {sorted(unsupported)}: {statement}")
        actions = _actions(statement)
        actions += [_BATCH_ACTIONS[action] for action in actions if action in _BATCH_ACTIONS]
        tables = [action for action in actions if action.startswith("dynamodb:")]
        others = [action for action in actions if not action.startswith("dynamodb:")]
        if tables:
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            arns = [_resolve(resource, local, "a DynamoDB grant's resource") for resource in resources]
            translated.append({"Effect": statement["Effect"], "Action": tables, "Resource": arns})
        if others:
            translated.append({"Effect": statement["Effect"], "Action": others, "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": translated}


def table_arn(name: str, index: str | None = None) -> str:
    """A local table's (or index's) ARN; DynamoDB also takes an ARN where a table name goes."""
    arn = name if name.startswith("arn:") else f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    return f"{arn}/index/{index}" if index else arn


def dynamodb_authorizations(action: str, body: bytes | str) -> list[tuple[str, str]] | None:
    """The (action, resource ARN) pairs AWS authorizes a DynamoDB call by: a transaction's items each
    by its own action on its table, a batch call on each table it names, any other call on its table
    (or the index it queries). None for a call to another service."""
    if not action.startswith("dynamodb:"):
        return None
    request = json.loads(body or "{}")
    if action in ("dynamodb:TransactWriteItems", "dynamodb:TransactGetItems"):
        return sorted(
            {
                (_TRANSACTION_ITEM_ACTIONS[kind], table_arn(details["TableName"]))
                for item in request.get("TransactItems", [])
                for kind, details in item.items()
            }
        )
    if "RequestItems" in request:
        return [(action, table_arn(name)) for name in request["RequestItems"]]
    if "TableName" in request:
        return [(action, table_arn(request["TableName"], request.get("IndexName")))]
    return [(action, "*")]


def judge_dynamodb_by_resource() -> None:
    """Patches moto's IAM check (in this process: the moto server must run here) so a DynamoDB call
    is allowed only when every (action, resource) pair AWS would check is (`dynamodb_authorizations`).
    Idempotent."""
    from moto.iam.access_control import IAMRequestBase

    check = IAMRequestBase.check_action_permitted
    if getattr(check, "judges_dynamodb", False):
        return

    def check_resources(self: Any, resource: str) -> None:
        pairs = dynamodb_authorizations(self._action, self._body)
        if pairs is None:
            check(self, resource)
            return
        whole = self._action
        try:
            for action, arn in pairs:
                self._action = action  # so AccessDenied names the missing action, as AWS does
                check(self, arn)
        finally:
            self._action = whole

    check_resources.judges_dynamodb = True  # type: ignore[attr-defined]
    IAMRequestBase.check_action_permitted = check_resources  # type: ignore[method-assign]


# --- the local resources --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Local:
    """A template resource's local value: what `Ref` gives and what `Fn::GetAtt` can ask for."""

    ref: str
    attributes: dict[str, str]


def _single_name(resources: Mapping[str, Any], logical_id: str, name_property: str, local: str) -> str:
    """The template's physical name when it has one, else the local name (when there is no doubt)."""
    named = resources[logical_id]["Properties"].get(name_property)
    if named:
        return str(named)
    if len(resources) != 1:
        raise RehearsalError(f"{logical_id} has no {name_property} and is not the only one of its kind")
    return local


class _LocalStack:
    def __init__(self, endpoint_url: str, key_id: str, secret: str) -> None:
        session = boto3.Session(aws_access_key_id=key_id, aws_secret_access_key=secret, region_name=REGION)
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)
        self.sqs = session.client("sqs", endpoint_url=endpoint_url)
        self.s3 = session.client("s3", endpoint_url=endpoint_url)
        self.secrets = session.client("secretsmanager", endpoint_url=endpoint_url)
        self.iam = session.client("iam", endpoint_url=endpoint_url)
        self.kms = session.client("kms", endpoint_url=endpoint_url)
        self.sns = session.client("sns", endpoint_url=endpoint_url)

    def tables(self, template: Mapping[str, Any]) -> dict[str, _Local]:
        resources = resources_of_type(template, "AWS::DynamoDB::Table")
        existing = set(self.dynamodb.list_tables()["TableNames"])
        made = {}
        for logical_id, resource in resources.items():
            props = resource["Properties"]
            name = _single_name(resources, logical_id, "TableName", TABLE.name)
            if name not in existing:
                definition = {
                    "TableName": name,
                    "BillingMode": props.get("BillingMode", "PROVISIONED"),
                    "AttributeDefinitions": props["AttributeDefinitions"],
                    "KeySchema": props["KeySchema"],
                }
                if props.get("GlobalSecondaryIndexes"):
                    definition["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
                if "ProvisionedThroughput" in props:
                    definition["ProvisionedThroughput"] = props["ProvisionedThroughput"]
                self.dynamodb.create_table(**definition)
                if props.get("TimeToLiveSpecification"):
                    self.dynamodb.update_time_to_live(
                        TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"]
                    )
            arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
            made[logical_id] = _Local(name, {"Arn": arn})
        return made

    def queues(self, template: Mapping[str, Any]) -> dict[str, _Local]:
        resources = resources_of_type(template, "AWS::SQS::Queue")
        dead_letter_ids = {
            resource["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            for resource in resources.values()
            if "RedrivePolicy" in resource["Properties"]
        }
        made: dict[str, _Local] = {}
        # Dead-letter queues first: the others' redrive policies name them.
        for logical_id in sorted(resources, key=lambda queue_id: queue_id not in dead_letter_ids):
            props = resources[logical_id]["Properties"]
            name = props.get("QueueName") or self._local_queue_name(logical_id, resources, dead_letter_ids)
            attributes: dict[Any, str] = {}
            if "VisibilityTimeout" in props:
                attributes["VisibilityTimeout"] = str(props["VisibilityTimeout"])
            # AWS's default when the template says nothing (moto's is 1 MiB): a message the deployed
            # queue would refuse is refused locally too.
            attributes["MaximumMessageSize"] = str(props.get("MaximumMessageSize", 262_144))
            if "MessageRetentionPeriod" in props:
                attributes["MessageRetentionPeriod"] = str(props["MessageRetentionPeriod"])
            if "RedrivePolicy" in props:
                redrive = props["RedrivePolicy"]
                target = made[redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]]
                attributes["RedrivePolicy"] = json.dumps(
                    {
                        "deadLetterTargetArn": target.attributes["Arn"],
                        "maxReceiveCount": str(redrive["maxReceiveCount"]),
                    }
                )
            url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
            made[logical_id] = _Local(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})
        return made

    @staticmethod
    def _local_queue_name(logical_id: str, resources: Mapping[str, Any], dead_letter_ids: set[str]) -> str:
        kind = [
            queue_id
            for queue_id in resources
            if (queue_id in dead_letter_ids) == (logical_id in dead_letter_ids)
        ]
        if len(kind) != 1:
            raise RehearsalError(f"{logical_id} has no QueueName and is not the only queue of its kind")
        return USAGE_QUEUE.dead_letter_name if logical_id in dead_letter_ids else USAGE_QUEUE.name

    def buckets(self, template: Mapping[str, Any]) -> dict[str, _Local]:
        resources = resources_of_type(template, "AWS::S3::Bucket")
        existing = {bucket["Name"] for bucket in self.s3.list_buckets().get("Buckets", [])}
        made = {}
        for logical_id in resources:
            name = _single_name(resources, logical_id, "BucketName", BODIES_BUCKET.name)
            if name not in existing:
                self.s3.create_bucket(Bucket=name)
            rules = resources[logical_id].get("Properties", {}).get("LifecycleConfiguration", {}).get("Rules")
            if rules:
                converted: Any = [_lifecycle_rule(rule) for rule in rules]
                self.s3.put_bucket_lifecycle_configuration(
                    Bucket=name, LifecycleConfiguration={"Rules": converted}
                )
            made[logical_id] = _Local(name, {"Arn": f"arn:aws:s3:::{name}"})
        return made

    def server_secrets(self, template: Mapping[str, Any], value: str) -> dict[str, _Local]:
        resources = resources_of_type(template, "AWS::SecretsManager::Secret")
        made = {}
        for logical_id in resources:
            name = _single_name(resources, logical_id, "Name", SERVER_SECRET_NAME)
            try:
                arn = self.secrets.create_secret(Name=name, SecretString=value)["ARN"]
            except self.secrets.exceptions.ResourceExistsException:
                arn = self.secrets.put_secret_value(SecretId=name, SecretString=value)["ARN"]
            made[logical_id] = _Local(arn, {"Id": arn})
        return made

    def kms_keys(self, template: Mapping[str, Any]) -> dict[str, _Local]:
        """The template's KMS keys and their aliases. A key has no name to find it by again, so each
        is tagged with its logical id. Key policies are not reproduced: the stack's keys keep the
        default one, which leaves the decision to the account's IAM policies, and those are rehearsed."""
        existing = {}
        for listed in self.kms.list_keys()["Keys"]:
            for tag in self.kms.list_resource_tags(KeyId=listed["KeyId"])["Tags"]:
                if tag["TagKey"] == _LOGICAL_ID_TAG:
                    existing[tag["TagValue"]] = listed["KeyId"]
        made = {}
        for logical_id, resource in resources_of_type(template, "AWS::KMS::Key").items():
            props = resource["Properties"]
            key_id = (
                existing.get(logical_id)
                or self.kms.create_key(
                    Description=props.get("Description", ""),
                    KeyUsage=props.get("KeyUsage", "ENCRYPT_DECRYPT"),
                    KeySpec=props.get("KeySpec", "SYMMETRIC_DEFAULT"),
                    Tags=[{"TagKey": _LOGICAL_ID_TAG, "TagValue": logical_id}],
                )["KeyMetadata"]["KeyId"]
            )
            arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
            made[logical_id] = _Local(key_id, {"Arn": arn, "KeyId": key_id})
        aliases = {alias["AliasName"] for alias in self.kms.list_aliases()["Aliases"]}
        for logical_id, resource in resources_of_type(template, "AWS::KMS::Alias").items():
            name = resource["Properties"]["AliasName"]
            target = _resolve(resource["Properties"]["TargetKeyId"], made, logical_id)
            if name in aliases:
                self.kms.update_alias(AliasName=name, TargetKeyId=target)
            else:
                self.kms.create_alias(AliasName=name, TargetKeyId=target)
            made[logical_id] = _Local(name, {})
        return made

    def topics(self, template: Mapping[str, Any]) -> dict[str, _Local]:
        """The template's SNS topics, named after their logical ids when CloudFormation would name
        them (creating a topic that exists returns it). Encryption and subscriptions are AWS's
        business; what is rehearsed is who may publish."""
        made = {}
        for logical_id, resource in resources_of_type(template, "AWS::SNS::Topic").items():
            name = resource["Properties"].get("TopicName") or logical_id
            arn = self.sns.create_topic(Name=name)["TopicArn"]
            made[logical_id] = _Local(arn, {"TopicArn": arn, "TopicName": name})
        return made


@lru_cache(maxsize=8)
def _local_stack(endpoint_url: str, key_id: str, secret: str) -> _LocalStack:
    """Clients are slow to make (~10 ms each): once per server and identity, not per rehearsal."""
    return _LocalStack(endpoint_url, key_id, secret)


# --- environment ----------------------------------------------------------------------------------


def _mentions(value: Any, kind: str, template: Mapping[str, Any]) -> bool:
    """Whether a template expression refers (anywhere inside) to a resource of this type."""
    if isinstance(value, dict):
        for key, inner in value.items():
            target = inner[0] if key == "Fn::GetAtt" else inner if key == "Ref" else None
            if isinstance(target, str) and template["Resources"].get(target, {}).get("Type") == kind:
                return True
            if _mentions(inner, kind, template):
                return True
    if isinstance(value, list):
        return any(_mentions(inner, kind, template) for inner in value)
    return False


def _resolve(value: Any, local: Mapping[str, _Local], variable: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref" and argument in local:
            return local[argument].ref
        if key == "Ref" and argument == "AWS::Region":
            return REGION
        if key == "Ref" and argument == "AWS::AccountId":
            return ACCOUNT
        if key == "Fn::GetAtt" and argument[0] in local and argument[1] in local[argument[0]].attributes:
            return local[argument[0]].attributes[argument[1]]
        if key == "Fn::Join":
            return str(argument[0]).join(_resolve(part, local, variable) for part in argument[1])
    raise RehearsalError(f"{variable}: no local value for {json.dumps(value)}")


def function_environment(
    template: Mapping[str, Any],
    function: Mapping[str, Any],
    local: Mapping[str, _Local],
    public_url: str,
    overrides: Mapping[str, str],
) -> dict[str, str]:
    """The function's template variables with local values. A value built from the proxy's function
    URL is the local stack's public base URL (there is no function URL on a laptop)."""
    environment = {}
    for variable, value in function["Properties"].get("Environment", {}).get("Variables", {}).items():
        if variable in overrides:
            environment[variable] = overrides[variable]
        elif _mentions(value, "AWS::Lambda::Url", template):
            environment[variable] = public_url
        else:
            environment[variable] = _resolve(value, local, variable)
    return environment


# --- identities -----------------------------------------------------------------------------------

# Access keys this process created, per moto endpoint and user: moto never shows a secret again, and
# keeping them stable keeps the clients that were made with them valid across rehearsals.
_KEYS: dict[tuple[str, str], tuple[str, str, str]] = {}
_FULL_ACCESS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def user_name(function: str) -> str:
    return USER_PREFIX + function.replace("_", "-")


def _user(
    stack: _LocalStack, endpoint_url: str, name: str, policy: dict[str, Any], users: set[str]
) -> tuple[str, str]:
    document = json.dumps(policy, sort_keys=True)
    known = _KEYS.get((endpoint_url, name))
    if known and name in users:
        key_id, secret, applied = known
        if applied != document:
            stack.iam.put_user_policy(UserName=name, PolicyName="role", PolicyDocument=document)
            _KEYS[(endpoint_url, name)] = (key_id, secret, document)
        return key_id, secret
    if name not in users:
        stack.iam.create_user(UserName=name)
    stack.iam.put_user_policy(UserName=name, PolicyName="role", PolicyDocument=document)
    key = stack.iam.create_access_key(UserName=name)["AccessKey"]
    _KEYS[(endpoint_url, name)] = (key["AccessKeyId"], key["SecretAccessKey"], document)
    return key["AccessKeyId"], key["SecretAccessKey"]


def _set_enforcement(endpoint_url: str, enforce: bool) -> None:
    """moto counts unsigned-for requests until INITIAL_NO_AUTH_ACTION_COUNT; posting the count resets
    the counter: "0" enforces from the next request, "inf" never does. (`/moto-api/reset` wipes IAM.)"""
    response = requests.post(
        f"{endpoint_url}/moto-api/reset-auth", data="0" if enforce else "inf", timeout=10
    )
    response.raise_for_status()


def rehearse(
    endpoint_url: str,
    *,
    overrides: Mapping[str, str] | None = None,
    enforce: bool = True,
    template: dict[str, Any] | None = None,
) -> Rehearsal:
    """Creates what the template deploys in the moto server at `endpoint_url` (idempotent: what
    exists is kept) and returns each function's environment and credentials.

    The server secret's value is this process's CODECOSTS_SERVER_SECRET; overrides replace template
    values by variable name (e.g. CODECOSTS_UPSTREAM_URL for a fake upstream)."""
    overrides = dict(overrides or {})
    template = template or load_template()
    secret_value = os.environ.get("CODECOSTS_SERVER_SECRET")
    if not secret_value:
        raise RehearsalError("CODECOSTS_SERVER_SECRET is not set: the local secret needs a value")
    judge_dynamodb_by_resource()
    # Open while setting up: enforcement may be on from an earlier rehearsal whose IAM was reset.
    _set_enforcement(endpoint_url, enforce=False)
    try:
        return _rehearse(endpoint_url, template, overrides, secret_value)
    finally:
        # On again even when the template could not be rehearsed: never left open by accident.
        if enforce:
            _set_enforcement(endpoint_url, enforce=True)


def _rehearse(
    endpoint_url: str, template: dict[str, Any], overrides: Mapping[str, str], secret_value: str
) -> Rehearsal:
    stack = _local_stack(endpoint_url, "rehearsal", "rehearsal")
    users = {user["UserName"] for user in stack.iam.list_users()["Users"]}
    operator = _user(stack, endpoint_url, OPERATOR, _FULL_ACCESS, users)
    stack = _local_stack(endpoint_url, *operator)

    local: dict[str, _Local] = {}
    local |= stack.tables(template)
    local |= stack.queues(template)
    local |= stack.buckets(template)
    local |= stack.server_secrets(template, secret_value)
    local |= stack.kms_keys(template)
    local |= stack.topics(template)

    from shared.settings import Settings

    public_url = overrides.get("CODECOSTS_PUBLIC_URL") or Settings().base_url
    functions = {}
    for resource in resources_of_type(template, "AWS::Lambda::Function").values():
        name = function_name(resource)
        policy = moto_policy(role_statements(template, resource), local)
        key_id, secret = _user(stack, endpoint_url, user_name(name), policy, users)
        environment = function_environment(template, resource, local, public_url, overrides)
        functions[name] = FunctionRole(name, environment, key_id, secret)

    queues = resources_of_type(template, "AWS::SQS::Queue")
    redriven = [queue for queue in queues if "RedrivePolicy" in queues[queue]["Properties"]]
    usage_queue = _only(redriven, "queue with a dead-letter queue")
    dead_letter_queue = queues[usage_queue]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
    return Rehearsal(
        functions=functions,
        operator_access_key_id=operator[0],
        operator_secret_access_key=operator[1],
        table_name=local[_only(list(resources_of_type(template, "AWS::DynamoDB::Table")), "table")].ref,
        usage_queue_url=local[usage_queue].ref,
        dead_letter_queue_url=local[dead_letter_queue["Fn::GetAtt"][0]].ref,
        bodies_bucket=local[_only(list(resources_of_type(template, "AWS::S3::Bucket")), "bucket")].ref,
        event_source=event_source(template),
    )


def event_source(template: Mapping[str, Any]) -> EventSource:
    """The usage queue's event source mapping: its batch size, batching window and maximum concurrency
    (the local pollers' count). A mapping without a concurrency cap would scale with the queue, which
    the local stack cannot rehearse on a laptop: it is refused rather than guessed."""
    mappings = list(resources_of_type(template, "AWS::Lambda::EventSourceMapping").values())
    if len(mappings) != 1:
        raise RehearsalError(
            f"the stack has {len(mappings)} event source mappings, "
            "the local stack expects one (the usage queue's)"
        )
    properties = mappings[0]["Properties"]
    concurrency = properties.get("ScalingConfig", {}).get("MaximumConcurrency")
    if concurrency is None:
        raise RehearsalError("the usage queue's event source mapping sets no MaximumConcurrency")
    return EventSource(
        batch_size=int(properties.get("BatchSize", 10)),  # SQS's default
        window_seconds=int(properties.get("MaximumBatchingWindowInSeconds", 0)),
        max_concurrency=int(concurrency),
    )


def _only(logical_ids: list[str], kind: str) -> str:
    if len(logical_ids) != 1:
        raise RehearsalError(f"the stack has {len(logical_ids)} of {kind}, the local stack expects one")
    return logical_ids[0]
