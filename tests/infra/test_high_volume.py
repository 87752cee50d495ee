"""`-c highVolume=true` puts the proxy on Lambda Managed Instances: the same function URL and
streaming, an arm64 capacity provider in a VPC with one NAT gateway and endpoints for DynamoDB, S3 and
SQS; the default deploys none of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.constructs.high_volume import INSTANCE_VCPUS, MIN_INSTANCES, STREAMS_PER_ENVIRONMENT


def _kinds(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def _synth(tmp_path_factory: pytest.TempPathFactory, **context: str) -> dict[str, Any]:
    from infra.app import build_app
    from infra.bundles import BUNDLES

    placeholders = tmp_path_factory.mktemp("bundles")
    for function in BUNDLES:
        (placeholders / function).mkdir()
        (placeholders / function / "placeholder.txt").write_text(function)
    outdir = Path(tmp_path_factory.mktemp("cdk.out"))
    app, stack = build_app(context={"bundleDir": str(placeholders), **context}, outdir=str(outdir))
    assembly = app.synth()  # cdk-nag runs here: a finding fails the synth
    template: dict[str, Any] = assembly.get_stack_by_name(stack.stack_name).template
    return template


@pytest.fixture(scope="module")
def high_volume(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _synth(tmp_path_factory, highVolume="true")


def _proxy_on_instances(template: dict[str, Any]) -> dict[str, Any]:
    (proxy,) = [f for f in _kinds(template, "AWS::Lambda::Function") if "CapacityProviderConfig" in f]
    return proxy


def test_high_volume_runs_the_streaming_proxy_on_managed_instances(high_volume: dict[str, Any]) -> None:
    (provider,) = _kinds(high_volume, "AWS::Lambda::CapacityProvider")
    assert provider["InstanceRequirements"]["Architectures"] == ["arm64"]
    assert provider["InstanceRequirements"]["AllowedInstanceTypes"] == ["c7g.large"]
    on_instances = [
        function
        for function in _kinds(high_volume, "AWS::Lambda::Function")
        if "CapacityProviderConfig" in function
    ]
    assert [f["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] for f in on_instances] == [
        "codecosts-proxy"
    ]
    config = on_instances[0]["CapacityProviderConfig"]["LambdaManagedInstancesCapacityProviderConfig"]
    assert config["PerExecutionEnvironmentMaxConcurrency"] == STREAMS_PER_ENVIRONMENT
    # Managed Instances refuse a function below 2 GB (the default deployment's 160 MB would not deploy).
    assert on_instances[0]["MemorySize"] == 2048
    assert on_instances[0]["Environment"]["Variables"]["AWS_LWA_INVOKE_MODE"] == "response_stream"
    (url,) = _kinds(high_volume, "AWS::Lambda::Url")
    assert url["InvokeMode"] == "RESPONSE_STREAM"
    # Instances keep their environments: no snapshot to restore, no hooks for the adapter.
    assert "SnapStart" not in on_instances[0]
    assert "AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH" not in on_instances[0]["Environment"]["Variables"]


def _max_vcpus(template: dict[str, Any]) -> int:
    (provider,) = _kinds(template, "AWS::Lambda::CapacityProvider")
    return int(provider["CapacityProviderScalingConfig"]["MaxVCpuCount"])


def test_high_volume_caps_the_proxy_at_the_environments_its_streams_need(
    high_volume: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    # cdk.json's proxyMaxConcurrency (400 streams) is one environment's worth: Lambda's three at least.
    proxy = _proxy_on_instances(high_volume)
    assert proxy["FunctionScalingConfig"] == {"MaxExecutionEnvironments": MIN_INSTANCES}
    # Not a reservation: one environment serves hundreds of streams, and a reservation of 400 would
    # not cap them where the default deployment's does.
    assert "ReservedConcurrentExecutions" not in proxy
    # An instance per environment, and room for a new version's first three during a deploy.
    assert _max_vcpus(high_volume) == (MIN_INSTANCES + MIN_INSTANCES) * INSTANCE_VCPUS

    # The peak, 4,000 streams: ten environments. The account's concurrency check counts no
    # reservation for the proxy here (the same 4,000 reserved in the default deployment is refused).
    peak = _synth(tmp_path_factory, highVolume="true", proxyMaxConcurrency="4000")
    environments = 4000 // STREAMS_PER_ENVIRONMENT
    assert _proxy_on_instances(peak)["FunctionScalingConfig"] == {"MaxExecutionEnvironments": environments}
    assert _max_vcpus(peak) == (environments + MIN_INSTANCES) * INSTANCE_VCPUS
    with pytest.raises(ValueError, match="reserved concurrency 4070"):
        _synth(tmp_path_factory, proxyMaxConcurrency="4000")


def test_high_volume_brings_one_nat_gateway_and_endpoints_for_the_aws_services(
    high_volume: dict[str, Any],
) -> None:
    assert len(_kinds(high_volume, "AWS::EC2::NatGateway")) == 1
    endpoints = _kinds(high_volume, "AWS::EC2::VPCEndpoint")
    by_type = {
        kind: {str(e["ServiceName"]) for e in endpoints if e["VpcEndpointType"] == kind}
        for kind in ("Gateway", "Interface")
    }
    assert any("dynamodb" in name for name in by_type["Gateway"])
    assert any(".s3" in name for name in by_type["Gateway"])
    # SQS through an interface endpoint the SDK's usual hostname resolves to (private DNS), in the
    # instances' subnets: the usage messages skip the NAT gateway's per-GB charge.
    (sqs,) = [e for e in endpoints if e["VpcEndpointType"] == "Interface"]
    assert "sqs" in json.dumps(sqs["ServiceName"]) and sqs["PrivateDnsEnabled"] is True
    private = {
        logical
        for logical, resource in high_volume["Resources"].items()
        if resource["Type"] == "AWS::EC2::Subnet" and not resource["Properties"].get("MapPublicIpOnLaunch")
    }
    assert {ref["Ref"] for ref in sqs["SubnetIds"]} == private
    # Reachable on 443 from the instances' security group alone.
    (group,) = [ref["Fn::GetAtt"][0] for ref in sqs["SecurityGroupIds"]]
    rules = [
        r
        for r in _kinds(high_volume, "AWS::EC2::SecurityGroupIngress")
        if r["GroupId"]["Fn::GetAtt"][0] == group
    ]
    assert [(r["FromPort"], r["ToPort"], "SourceSecurityGroupId" in r) for r in rules] == [(443, 443, True)]
    assert "SecurityGroupIngress" not in high_volume["Resources"][group]["Properties"]


def test_the_default_deployment_has_no_vpc_or_instances(template_json: dict[str, Any]) -> None:
    kinds = {r["Type"] for r in template_json["Resources"].values()}
    assert not kinds & {"AWS::EC2::VPC", "AWS::EC2::NatGateway", "AWS::Lambda::CapacityProvider"}
