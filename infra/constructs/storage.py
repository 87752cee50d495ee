"""What Codecosts keeps: the table, the bodies bucket and the server secret.

Once created, all of it survives a stack update or deletion: usage history and the secret that API-key
hashes depend on are not disposable (RETAIN_ON_UPDATE_OR_DELETE: CloudFormation's
`RetainExceptOnCreate`). What a failed first deploy created is deleted by its rollback, and every
name is CloudFormation's, so the retry never collides with a leftover. The table keeps deletion
protection: not even a stack deletion can remove it.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.nag import acknowledge
from shared.bodies.retention import (
    ALLOWED_RETENTION_DAYS,
    LIFECYCLE_GRACE_DAYS,
    LONGEST_RETENTION_DAYS,
    RETENTION_TAG,
)
from shared.resources import BODIES_BUCKET, TABLE


def _string_key(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


def _body_lifecycle() -> list[s3.LifecycleRule]:
    """One rule per retention an endpoint may choose, matching the tag every body object carries
    (shared/bodies/retention.py), and a catch-all at the longest so no object outlives every choice."""
    rules = [
        s3.LifecycleRule(
            id=f"ExpireBodiesAfter{days}Days",
            prefix=BODIES_BUCKET.bodies_prefix,
            tag_filters={RETENTION_TAG: str(days)},
            expiration=Duration.days(days + LIFECYCLE_GRACE_DAYS),
        )
        for days in ALLOWED_RETENTION_DAYS
        if days > 0
    ]
    rules.append(
        s3.LifecycleRule(
            id="ExpireBodies",
            prefix=BODIES_BUCKET.bodies_prefix,
            expiration=Duration.days(LONGEST_RETENTION_DAYS + LIFECYCLE_GRACE_DAYS),
            abort_incomplete_multipart_upload_after=Duration.days(1),
        )
    )
    return rules


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)

        # Keys, indexes and TTL from shared.resources: the local stack (devstack) reads the same. The
        # name is CloudFormation's (TABLE.name is the local one); the functions read it from their
        # environment.
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=_string_key(TABLE.partition_key),
            sort_key=_string_key(TABLE.sort_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Rate-limit counters expire by themselves.
            time_to_live_attribute=TABLE.ttl_attribute,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        for index in TABLE.indexes:
            self.table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_string_key(index.partition_key),
                sort_key=_string_key(index.sort_key),
                projection_type=dynamodb.ProjectionType.ALL,
            )

        # Bucket name left to CloudFormation: S3 names are global, BODIES_BUCKET.name is only the local one.
        self.bodies_bucket = s3.Bucket(
            self,
            "Bodies",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=_body_lifecycle(),
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        acknowledge(
            self.bodies_bucket,
            "AwsSolutions-S1",
            "Only this stack's function roles read or write the bucket (least-privilege policies on the "
            "bodies prefix); access is audited with CloudTrail, and a second bucket of access logs would "
            "itself hold request metadata for no reader.",
        )

        # Peppers API-key hashes, fingerprints Anthropic credentials and signs page cursors. Generated
        # here so no value ever appears in the template; the functions get only its ARN.
        self.server_secret = secretsmanager.Secret(
            self,
            "ServerSecret",
            description="Codecosts server secret (API-key pepper, credential fingerprints, cursor signing)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        acknowledge(
            self.server_secret,
            "AwsSolutions-SMG4",
            "Not rotatable: stored API-key hashes and credential fingerprints are HMACs under this secret, "
            "so a new value would lock out every key and split usage by key.",
        )
