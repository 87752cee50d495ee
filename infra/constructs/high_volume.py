"""High-volume mode (`cdk deploy -c highVolume=true`): the proxy on Lambda Managed Instances.

One execution environment serves many streams at once (the Web Adapter forwards concurrent requests
to the one uvicorn), so a stream waiting on Anthropic costs no duration: the bill is the instances
(EC2 on-demand plus Lambda's management fee), at least three of them (Lambda's default, one per
availability zone), and the VPC they run in: one NAT gateway carries the Anthropic traffic, gateway
endpoints (free) carry DynamoDB and S3, and an interface endpoint carries SQS (the usage messages are
most of the bytes the proxy sends to AWS: per GB the endpoint costs less than a quarter of the NAT).
The function URL and its response streaming stay as they are. Its fixed cost and break-even volume:
docs/benchmarks.md, "Cost per million Claude Code calls".
"""

from __future__ import annotations

import math

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.nag import acknowledge

INSTANCE_TYPE = "c7g.large"  # the bench's cost model prices this one
INSTANCE_VCPUS = 2  # Graviton3
INSTANCE_MIB = 4096
MIN_INSTANCES = 3  # Lambda launches three for AZ resiliency (Managed Instances scaling docs)
AVAILABILITY_ZONES = 3  # Lambda spreads its default three instances over them
# Managed Instances' smallest environment: 2 GB and (at the default 2 GiB per vCPU) one vCPU.
ENVIRONMENT_MEMORY_MB = 2048
# Streams one environment takes at once: what its memory, its vCPU and Lambda's 1,024 file
# descriptors allow, whichever is least (bench/scale_cost.py environment_fit; docs/benchmarks.md
# prints the figure and whether this is it). Too few would make Lambda add instances for streams that
# only wait on Anthropic.
STREAMS_PER_ENVIRONMENT = 400


def environments_for(streams: int) -> int:
    """Environments that `streams` at once need, each on a c7g.large of its own (its 2 GB and one vCPU
    fit once in the instance's 4 GiB and two, beside the instance's own processes); three at least."""
    return max(MIN_INSTANCES, math.ceil(streams / STREAMS_PER_ENVIRONMENT))


class ProxyInstances(Construct):
    """`max_streams` (cdk.json `proxyMaxConcurrency`) is the mode's guard against a flood on the public
    URL, as the reservation is the default deployment's: the proxy's version may run at most the
    environments that many streams need, and the capacity provider at most their instances, plus room
    for a new version's first three while the old one still serves (a deploy). It caps the bill too:
    without it, Lambda would scale a flood up to its default of 400 vCPUs. None: no guard."""

    def __init__(
        self, scope: Construct, construct_id: str, *, proxy: lambda_.Function, max_streams: int | None
    ) -> None:
        super().__init__(scope, construct_id)
        ceiling = environments_for(max_streams) if max_streams else None
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=AVAILABILITY_ZONES,
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(name="instances", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            ],
            gateway_endpoints={
                "DynamoDb": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
            },
        )
        acknowledge(
            self.vpc,
            "AwsSolutions-VPC7",
            "Flow logs would add CloudWatch ingestion per GB of proxied traffic; the proxy's own logs say "
            "who called what",
        )
        security_group = ec2.SecurityGroup(
            self, "Instances", vpc=self.vpc, description="Codecosts proxy instances", allow_all_outbound=True
        )
        # The usage messages (a Claude Code call's is ~150 KB) reach SQS without the NAT's per-GB
        # charge; only the instances may use the endpoint.
        endpoint_group = ec2.SecurityGroup(
            self,
            "SqsEndpoint",
            vpc=self.vpc,
            description="SQS endpoint: HTTPS from the proxy instances",
            allow_all_outbound=False,
        )
        endpoint_group.add_ingress_rule(security_group, ec2.Port.tcp(443), "the proxy's SQS calls")
        self.vpc.add_interface_endpoint(
            "Sqs",
            service=ec2.InterfaceVpcEndpointAwsService.SQS,
            private_dns_enabled=True,
            open=False,
            security_groups=[endpoint_group],
            subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        )
        self.capacity = lambda_.CapacityProvider(
            self,
            "Capacity",
            subnets=self.vpc.private_subnets,
            security_groups=[security_group],
            architectures=[lambda_.Architecture.ARM_64],
            instance_type_filter=lambda_.InstanceTypeFilter.allow([ec2.InstanceType(INSTANCE_TYPE)]),
            max_v_cpu_count=None if ceiling is None else (ceiling + MIN_INSTANCES) * INSTANCE_VCPUS,
        )
        acknowledge(
            self.capacity,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AWSLambdaManagedEC2ResourceOperator]",
            "Lambda's operator role for the instances it launches: AWS keeps this policy in step with what "
            "Managed Instances need",
        )
        self.capacity.add_function(
            proxy,
            per_execution_environment_max_concurrency=STREAMS_PER_ENVIRONMENT,
            latest_published_scaling_config=None
            if ceiling is None
            else lambda_.LatestPublishedScalingConfig(max_execution_environments=ceiling),
        )
