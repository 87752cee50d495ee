"""Every AWS list price the bench's cost models use: us-east-1, on demand, USD, checked 2026-11-30.

Sources (the public pricing pages; each value as the page lists it for US East (N. Virginia)):
- Lambda: https://aws.amazon.com/lambda/pricing/ (arm64 duration, first tier; requests; Managed
  Instances: the EC2 on-demand price plus a 15 % management fee, and the request charge; SnapStart
  for Python: snapshot cache per GB-second, restore per GB)
- EC2: https://aws.amazon.com/ec2/pricing/on-demand/ (c7g.large, Linux; data transfer out to the
  internet, first 10 TB a month; between availability zones, charged in each direction)
- VPC: https://aws.amazon.com/vpc/pricing/ (NAT gateway hour and GB processed); PrivateLink:
  https://aws.amazon.com/privatelink/pricing/ (interface endpoint hour per availability zone, GB processed)
- SQS: https://aws.amazon.com/sqs/pricing/ (standard queue, per request of up to 64 KB)
- DynamoDB: https://aws.amazon.com/dynamodb/pricing/on-demand/ (after the November 2024 cut; Standard
  table class storage and point-in-time recovery per GB-month)
- S3: https://aws.amazon.com/s3/pricing/ (Standard: PUT, GET; storage per GB-month, first 50 TB)
- CloudWatch: https://aws.amazon.com/cloudwatch/pricing/ (Lambda's logs ingested, first 10 TB; an
  alarm's metric at standard resolution; a dashboard)
- KMS: https://aws.amazon.com/kms/pricing/ (a customer managed key); Secrets Manager:
  https://aws.amazon.com/secrets-manager/pricing/ (a secret)
"""

from __future__ import annotations

LAMBDA_ARM_GB_SECOND = 0.0000133334
LAMBDA_REQUEST = 0.20 / 1e6
LAMBDA_VCPU_MB = 1769  # Lambda gives one vCPU at 1,769 MB, in proportion below
SNAPSTART_CACHE_GB_SECOND = 0.0000015046
SNAPSTART_RESTORE_GB = 0.0001397998
LMI_MANAGEMENT_FEE = 0.15  # of the instance's on-demand price
EC2_C7G_LARGE_HOUR = 0.0725  # its vCPUs and memory: infra/constructs/high_volume.py
DATA_OUT_GB = 0.09
INTER_AZ_GB = 0.01  # each direction
NAT_GATEWAY_HOUR = 0.045
NAT_GATEWAY_GB = 0.045
INTERFACE_ENDPOINT_AZ_HOUR = 0.01
INTERFACE_ENDPOINT_GB = 0.01
SQS_REQUEST = 0.40 / 1e6  # per 64 KB chunk of payload
SQS_CHUNK = 64 * 1024
DYNAMODB_WRU = 0.625 / 1e6
DYNAMODB_RRU = 0.125 / 1e6
DYNAMODB_STORAGE_GB_MONTH = 0.25
DYNAMODB_PITR_GB_MONTH = 0.20  # of the table's own items (indexes are not backed up)
S3_PUT = 0.005 / 1000
S3_GET = 0.0004 / 1000
S3_STANDARD_GB_MONTH = 0.023
LAMBDA_LOGS_GB = 0.50
ALARM_METRIC_MONTH = 0.10
DASHBOARD_MONTH = 3.00
KMS_KEY_MONTH = 1.00
SECRET_MONTH = 0.40
FARGATE_ARM_VCPU_HOUR = 0.03238
FARGATE_ARM_GB_HOUR = 0.00356
HOURS_PER_MONTH = 730
