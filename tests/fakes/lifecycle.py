"""S3's lifecycle expiration, run by hand: the embedded S3 keeps a bucket's rules but never runs them.

Applies the bucket's own configuration (the template's rules, as the local stack installs them) the
way S3 documents it: an object expires `Days` after its creation, rounded up to the next midnight
UTC, under a rule whose prefix and tags it matches; the shortest matching rule wins.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import boto3


def _matches(rule: dict[str, Any], key: str, tags: dict[str, str]) -> bool:
    condition = rule.get("Filter", {})
    condition = condition.get("And", condition)
    wanted = {tag["Key"]: tag["Value"] for tag in condition.get("Tags", [])}
    if "Tag" in condition:
        wanted[condition["Tag"]["Key"]] = condition["Tag"]["Value"]
    prefix = condition.get("Prefix", rule.get("Prefix", ""))
    return key.startswith(prefix) and all(tags.get(name) == value for name, value in wanted.items())


def _due(created: datetime, days: int) -> datetime:
    moment = created + timedelta(days=days)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == moment else midnight + timedelta(days=1)


def expire_objects(bucket: str, now: datetime) -> list[str]:
    """Deletes what the bucket's lifecycle rules would have expired by `now`; returns their keys."""
    s3 = boto3.client("s3")
    rules = [
        rule
        for rule in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        if rule["Status"] == "Enabled" and "Days" in rule.get("Expiration", {})
    ]
    expired = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            tagging = s3.get_object_tagging(Bucket=bucket, Key=entry["Key"])["TagSet"]
            tags = {tag["Key"]: tag["Value"] for tag in tagging}
            days = [rule["Expiration"]["Days"] for rule in rules if _matches(rule, entry["Key"], tags)]
            if days and now >= _due(entry["LastModified"], min(days)):
                s3.delete_object(Bucket=bucket, Key=entry["Key"])
                expired.append(entry["Key"])
    return expired
