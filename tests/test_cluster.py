"""The cluster stack of every environment matches its config (seeds EKS-100/101/200).

cdk-nag's EKS rules do not inspect aws_eks_v2 clusters, so the checks it would make (endpoint
restricted, all control-plane logs, secrets encryption, IMDSv2 on nodes) are made here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, assertions
from aws_cdk import aws_eks_v2 as eks

from infra.app import cdk_context
from infra.config import EnvironmentConfig
from infra.constructs.addons.aws_load_balancer_controller import is_read, read_actions
from infra.constructs.addons.cluster_autoscaler import discovery_tags
from infra.stacks.cluster import TIERS, ClusterStack
from infra.stacks.network import NetworkStack
from tests.conftest import CONFIGS, SynthesizedEstate

LOG_TYPES = {"api", "audit", "authenticator", "controllerManager", "scheduler"}


def _resources(synthesized: SynthesizedEstate, env: str, kind: str) -> dict[str, dict[str, Any]]:
    template = synthesized.template_json(f"twenty-{env}-cluster")
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _one(synthesized: SynthesizedEstate, env: str, kind: str) -> dict[str, Any]:
    found = _resources(synthesized, env, kind)
    assert len(found) == 1, f"expected one {kind}, found {sorted(found)}"
    return next(iter(found.values()))


def _network_output(value: Any) -> str:
    """The network stack output a weak cross-stack reference reads."""
    assert value["Fn::GetStackOutput"]["StackName"].endswith("-network"), value
    return str(value["Fn::GetStackOutput"]["OutputName"])


def _nodegroup(synthesized: SynthesizedEstate, env: str, tier: str) -> dict[str, Any]:
    groups = [
        g["Properties"]
        for g in _resources(synthesized, env, "AWS::EKS::Nodegroup").values()
        if g["Properties"]["Labels"] == {"tier": tier}
    ]
    assert len(groups) == 1, f"one node group labelled tier={tier}"
    return groups[0]


def _launch_template(synthesized: SynthesizedEstate, env: str, tier: str) -> dict[str, Any]:
    ref = _nodegroup(synthesized, env, tier)["LaunchTemplate"]["Id"]["Ref"]
    template = synthesized.template_json(f"twenty-{env}-cluster")
    data: dict[str, Any] = template["Resources"][ref]["Properties"]["LaunchTemplateData"]
    return data


def _addons(synthesized: SynthesizedEstate, env: str) -> dict[str, dict[str, Any]]:
    return {
        a["Properties"]["AddonName"]: a["Properties"]
        for a in _resources(synthesized, env, "AWS::EKS::Addon").values()
    }


def _charts(synthesized: SynthesizedEstate, env: str) -> dict[str, dict[str, Any]]:
    return {
        c["Properties"]["Chart"]: c["Properties"]
        for c in _resources(synthesized, env, "Custom::AWSCDK-EKS-HelmChart").values()
    }


def _values(chart: dict[str, Any]) -> str:
    """Chart values as text (they may embed a cross-stack token, hence Fn::Join)."""
    return json.dumps(chart["Values"])


def _policy_statements(synthesized: SynthesizedEstate, env: str, role_prefix: str) -> list[Any]:
    statements = []
    for policy in _resources(synthesized, env, "AWS::IAM::Policy").values():
        roles = [r["Ref"] for r in policy["Properties"]["Roles"]]
        if any(r.startswith(role_prefix) for r in roles):
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    assert statements, f"no policy on a role {role_prefix}*"
    return statements


# --------------------------------------------------------------------------- control plane


def test_cluster_version_name_and_subnets(synthesized, env: str, cfg: EnvironmentConfig):
    props = _one(synthesized, env, "AWS::EKS::Cluster")["Properties"]
    assert props["Name"] == f"twenty-{env}"
    assert props["Version"] == cfg.cluster.kubernetes_version
    subnets = [_network_output(s) for s in props["ResourcesVpcConfig"]["SubnetIds"]]
    assert len(subnets) == 2 and all("PrivateSubnet" in s for s in subnets), subnets


def test_kubectl_layer_matches_version(synthesized, env: str, cfg: EnvironmentConfig):
    layers = _resources(synthesized, env, "AWS::Lambda::LayerVersion").values()
    descriptions = [layer["Properties"].get("Description", "") for layer in layers]
    version = cfg.cluster.kubernetes_version
    assert any(f"/opt/kubectl/kubectl {version}." in d for d in descriptions), descriptions


def test_endpoint_access_from_config(synthesized, env: str, cfg: EnvironmentConfig):
    vpc_config = _one(synthesized, env, "AWS::EKS::Cluster")["Properties"]["ResourcesVpcConfig"]
    assert vpc_config["EndpointPrivateAccess"] is True
    cidrs = [str(c) for c in cfg.cluster.public_endpoint_cidrs]
    if cidrs:
        assert vpc_config["EndpointPublicAccess"] is True
        assert vpc_config["PublicAccessCidrs"] == cidrs
    else:
        assert vpc_config["EndpointPublicAccess"] is False
        assert "PublicAccessCidrs" not in vpc_config


def test_public_endpoint_never_open_to_the_internet(synthesized, env: str):
    """What cdk-nag's EKS1 would check: a public endpoint is restricted to listed CIDRs."""
    vpc_config = _one(synthesized, env, "AWS::EKS::Cluster")["Properties"]["ResourcesVpcConfig"]
    if vpc_config.get("EndpointPublicAccess", True):
        cidrs = vpc_config.get("PublicAccessCidrs", [])
        assert cidrs, "a public endpoint without PublicAccessCidrs is open to 0.0.0.0/0"
        assert "0.0.0.0/0" not in cidrs


def test_default_endpoints_per_environment():
    """dev and qa reach the API from listed ranges; prod is private only."""
    assert CONFIGS.get("prod") is None or CONFIGS["prod"].cluster.public_endpoint_cidrs == []
    for name in ("dev", "qa"):
        if name in CONFIGS:
            assert CONFIGS[name].cluster.public_endpoint_cidrs


def test_all_control_plane_log_types(synthesized, env: str):
    """What cdk-nag's EKS2 would check."""
    logging = _one(synthesized, env, "AWS::EKS::Cluster")["Properties"]["Logging"]
    enabled = {t["Type"] for t in logging["ClusterLogging"]["EnabledTypes"]}
    assert enabled == LOG_TYPES


def test_secrets_encrypted_with_rotating_retained_key(synthesized, env: str):
    props = _one(synthesized, env, "AWS::EKS::Cluster")["Properties"]
    (config,) = props["EncryptionConfig"]
    assert config["Resources"] == ["secrets"]
    assert config["Provider"]["KeyArn"] == {"Fn::GetAtt": ["ClusterSecretsKey", "Arn"]}
    key = synthesized.template_json(f"twenty-{env}-cluster")["Resources"]["ClusterSecretsKey"]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    assert key["UpdateReplacePolicy"] == "Retain"


def test_native_oidc_provider(synthesized, env: str):
    provider = _one(synthesized, env, "AWS::IAM::OIDCProvider")["Properties"]
    assert provider["Url"] == {
        "Fn::GetAtt": [
            next(iter(_resources(synthesized, env, "AWS::EKS::Cluster"))),
            "OpenIdConnectIssuerUrl",
        ]
    }


def test_managed_node_groups_not_auto_mode(synthesized, env: str):
    props = _one(synthesized, env, "AWS::EKS::Cluster")["Properties"]
    assert props["ComputeConfig"] == {"Enabled": False}
    assert props["BootstrapSelfManagedAddons"] is False


def test_cluster_creator_gets_no_admin(synthesized, env: str):
    access = _one(synthesized, env, "AWS::EKS::Cluster")["Properties"]["AccessConfig"]
    assert access == {"AuthenticationMode": "API", "BootstrapClusterCreatorAdminPermissions": False}


def test_access_entries_from_config(synthesized, env: str, cfg: EnvironmentConfig):
    entries = [
        e["Properties"] for e in _resources(synthesized, env, "AWS::EKS::AccessEntry").values()
    ]
    literal = {e["PrincipalArn"]: e for e in entries if isinstance(e["PrincipalArn"], str)}
    assert set(literal) == {*cfg.cluster.admin_role_arns, *cfg.cluster.read_only_role_arns}
    kubectl = [e for e in entries if not isinstance(e["PrincipalArn"], str)]
    assert len(kubectl) == 1, "CDK's kubectl Lambda is the one admin not from config"


@pytest.fixture(scope="module")
def access_template() -> dict[str, Any]:
    """One extra synth of dev's cluster stack with access entries configured (dev has none)."""
    base = CONFIGS.get("dev") or next(iter(CONFIGS.values()))
    cluster = base.cluster.model_copy(
        update={
            "admin_role_arns": ["arn:aws:iam::111111111111:role/example-platform-admin"],
            "read_only_role_arns": ["arn:aws:iam::111111111111:role/example-auditor"],
        }
    )
    app = App(context=cdk_context())
    network = NetworkStack(app, site=base.site, network=base.network)
    stack = ClusterStack(
        app,
        site=base.site,
        cluster=cluster,
        vpc=network.vpc,
        workload_security_group=network.workload_security_group,
        private_subnet_cidrs=[str(c) for c in base.network.private_subnets],
        redis_port=6379,
    )
    template: dict[str, Any] = assertions.Template.from_stack(stack).to_json()
    return template


def test_admin_and_read_only_access_policies(access_template: dict[str, Any]):
    entries = {
        e["Properties"]["PrincipalArn"]: e["Properties"]["AccessPolicies"]
        for e in access_template["Resources"].values()
        if e["Type"] == "AWS::EKS::AccessEntry" and isinstance(e["Properties"]["PrincipalArn"], str)
    }

    def policy_names(arn: str) -> list[str]:
        return [json.dumps(p["PolicyArn"]).split("/")[-1].strip('"]}') for p in entries[arn]]

    admin = "arn:aws:iam::111111111111:role/example-platform-admin"
    auditor = "arn:aws:iam::111111111111:role/example-auditor"
    assert policy_names(admin) == ["AmazonEKSClusterAdminPolicy"]
    assert policy_names(auditor) == ["AmazonEKSViewPolicy"]
    for policies in entries.values():
        assert [p["AccessScope"] for p in policies] == [{"Type": "cluster"}]


# --------------------------------------------------------------------------- node groups


@pytest.mark.parametrize("tier", TIERS)
def test_node_group_matches_config(synthesized, env: str, cfg: EnvironmentConfig, tier: str):
    """Instance types, sizes and labels equal config (dev, qa and prod: seed EKS-200)."""
    group = _nodegroup(synthesized, env, tier)
    want = getattr(cfg.cluster.node_groups, tier)
    assert group["InstanceTypes"] == want.instance_types
    assert group["ScalingConfig"] == {
        "MinSize": want.min_size,
        "DesiredSize": want.desired_size,
        "MaxSize": want.max_size,
    }
    assert group["Labels"] == {"tier": tier}
    assert group["AmiType"] == "AL2023_x86_64_STANDARD"


def test_seed_node_group_sizes():
    """The seeds' numbers, so a config edit that drifts from them is a visible test change."""
    expected = {
        "dev": {"frontend": (["t3.medium"], 2, 4), "backend": (["t3.large"], 2, 4)},
        "qa": {"frontend": (["t3.medium"], 2, 4), "backend": (["t3.large"], 2, 4)},
        "prod": {"frontend": (["t3.large"], 3, 6), "backend": (["t3.xlarge"], 3, 6)},
    }
    for env, tiers in expected.items():
        if env not in CONFIGS:
            continue
        for tier, (types, low, high) in tiers.items():
            group = getattr(CONFIGS[env].cluster.node_groups, tier)
            assert (group.instance_types, group.min_size, group.max_size) == (types, low, high)
            assert group.desired_size == low


@pytest.mark.parametrize("tier", TIERS)
def test_node_group_in_both_private_subnets(synthesized, env: str, tier: str):
    subnets = [_network_output(s) for s in _nodegroup(synthesized, env, tier)["Subnets"]]
    assert len(subnets) == 2 and all("PrivateSubnet" in s for s in subnets)
    assert len(set(subnets)) == 2, "one private subnet per AZ"


@pytest.mark.parametrize("tier", TIERS)
def test_launch_template_imdsv2_hop_limit_1(synthesized, env: str, tier: str):
    """What cdk-nag would check on EC2: IMDSv2 required, pods cannot reach node credentials."""
    metadata = _launch_template(synthesized, env, tier)["MetadataOptions"]
    assert metadata == {
        "HttpEndpoint": "enabled",
        "HttpPutResponseHopLimit": 1,
        "HttpTokens": "required",
    }


@pytest.mark.parametrize("tier", TIERS)
def test_launch_template_root_volume_and_monitoring(synthesized, env: str, cfg, tier: str):
    data = _launch_template(synthesized, env, tier)
    (device,) = data["BlockDeviceMappings"]
    assert device["DeviceName"] == "/dev/xvda"
    assert device["Ebs"] == {
        "DeleteOnTermination": True,
        "Encrypted": True,
        "VolumeSize": getattr(cfg.cluster.node_groups, tier).root_volume_size_gib,
        "VolumeType": "gp3",
    }
    assert data["Monitoring"] == {"Enabled": True}
    assert "ImageId" not in data and "UserData" not in data, "EKS picks the AL2023 AMI"


@pytest.mark.parametrize("tier", TIERS)
def test_nodes_wear_cluster_and_workload_security_groups(synthesized, env: str, tier: str):
    groups = _launch_template(synthesized, env, tier)["SecurityGroupIds"]
    cluster_id = next(iter(_resources(synthesized, env, "AWS::EKS::Cluster")))
    assert groups[0] == {"Fn::GetAtt": [cluster_id, "ClusterSecurityGroupId"]}
    assert "WorkloadSecurityGroup" in _network_output(groups[1])
    assert len(groups) == 2


def test_node_role_has_only_node_policies(synthesized, env: str):
    group_roles = {json.dumps(_nodegroup(synthesized, env, tier)["NodeRole"]) for tier in TIERS}
    assert len(group_roles) == 1, "both tiers share one node role"
    role_id = json.loads(group_roles.pop())["Fn::GetAtt"][0]
    role = synthesized.template_json(f"twenty-{env}-cluster")["Resources"][role_id]["Properties"]
    policies = {json.dumps(p).split("/")[-1].strip('"]}') for p in role["ManagedPolicyArns"]}
    assert policies == {"AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly"}
    inline = [
        p for p in _resources(synthesized, env, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]  # fmt: skip
    assert inline == [], "no inline grants on the node role"


@pytest.mark.parametrize("tier", TIERS)
def test_node_groups_carry_autoscaler_discovery_tags(synthesized, env: str, tier: str):
    tags = _nodegroup(synthesized, env, tier)["Tags"]
    for key, value in discovery_tags(f"twenty-{env}").items():
        assert tags[key] == value


# --------------------------------------------------------------------------- add-ons


def test_managed_addon_versions_pinned(synthesized, env: str, cfg: EnvironmentConfig):
    versions = cfg.cluster.addons
    addons = _addons(synthesized, env)
    assert {name: a["AddonVersion"] for name, a in addons.items()} == {
        "vpc-cni": versions.vpc_cni,
        "coredns": versions.coredns,
        "kube-proxy": versions.kube_proxy,
        "eks-pod-identity-agent": versions.pod_identity_agent,
        "metrics-server": versions.metrics_server,
        "amazon-cloudwatch-observability": versions.cloudwatch_observability,
    }
    assert all(a["ResolveConflicts"] == "OVERWRITE" for a in addons.values())


def test_vpc_cni_network_policy_and_pod_identity(synthesized, env: str):
    cni = _addons(synthesized, env)["vpc-cni"]
    assert json.loads(cni["ConfigurationValues"]) == {"enableNetworkPolicy": "true"}
    (association,) = cni["PodIdentityAssociations"]
    assert association["ServiceAccount"] == "aws-node"
    role_id = association["RoleArn"]["Fn::GetAtt"][0]
    role = synthesized.template_json(f"twenty-{env}-cluster")["Resources"][role_id]["Properties"]
    assert json.dumps(role["ManagedPolicyArns"]).count("AmazonEKS_CNI_Policy") == 1
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "pods.eks.amazonaws.com"
    }


def test_helm_chart_versions_pinned(synthesized, env: str, cfg: EnvironmentConfig):
    versions = cfg.cluster.addons
    charts = _charts(synthesized, env)
    assert {name: (c["Repository"], c["Version"]) for name, c in charts.items()} == {
        "aws-load-balancer-controller": (
            "https://aws.github.io/eks-charts",
            versions.aws_load_balancer_controller,
        ),
        "external-secrets": ("https://charts.external-secrets.io", versions.external_secrets),
        "cluster-autoscaler": (
            "https://kubernetes.github.io/autoscaler",
            versions.cluster_autoscaler,
        ),
        "kube-state-metrics": (
            "https://prometheus-community.github.io/helm-charts",
            versions.kube_state_metrics,
        ),
        "keda": ("https://kedacore.github.io/charts", versions.keda),
    }


def test_load_balancer_controller_values(synthesized, env: str, cfg: EnvironmentConfig):
    values = _values(_charts(synthesized, env)["aws-load-balancer-controller"])
    assert f'\\"region\\":\\"{cfg.region}\\"' in values
    assert '\\"vpcId\\":\\"' in values and "PublishOutputRefVpc" in values
    assert f'\\"clusterName\\":\\"twenty-{env}\\"' in values
    assert '\\"serviceAccount\\":{\\"create\\":false' in values


def test_controllers_use_pod_identity(synthesized, env: str):
    associations = {
        (a["Properties"]["Namespace"], a["Properties"]["ServiceAccount"])
        for a in _resources(synthesized, env, "AWS::EKS::PodIdentityAssociation").values()
    }
    assert associations == {
        ("kube-system", "aws-load-balancer-controller"),
        ("external-secrets", "external-secrets"),
        ("kube-system", "cluster-autoscaler"),
        ("keda", "keda-operator"),
    }


def test_load_balancer_controller_only_reads_here(synthesized, env: str, cfg):
    """Its writes (target registrations) come from the crm stack, on two target groups."""
    statements = _policy_statements(synthesized, env, "AwsLoadBalancerController")
    (describe,) = statements
    assert describe["Resource"] == "*" and "Condition" not in describe
    assert describe["Action"] == read_actions(cfg.cluster.addons.aws_load_balancer_controller)
    assert all(is_read(a) for a in describe["Action"])
    assert "elasticloadbalancing:DescribeTargetHealth" in describe["Action"]
    values = _values(_charts(synthesized, env)["aws-load-balancer-controller"]).replace("\\", "")
    for flag in ("enableShield", "enableWaf", "enableWafv2"):
        assert f'"{flag}":false' in values, flag


def test_external_secrets_role_has_no_grant_in_the_cluster_stack(synthesized, env: str):
    """Its reads are granted by the crm stack, secret by secret (tests/test_external_secrets.py)."""
    for policy in _resources(synthesized, env, "AWS::IAM::Policy").values():
        roles = [r["Ref"] for r in policy["Properties"]["Roles"]]
        assert not any(r.startswith("ExternalSecrets") for r in roles), policy


def test_cluster_secret_store(synthesized, env: str, cfg: EnvironmentConfig):
    stack = synthesized.estates[env].cluster
    assert isinstance(stack.cluster, eks.Cluster)
    assert isinstance(stack.secret_store_name, str) and stack.secret_store_name
    assert stack.secret_name_prefix == f"twenty/{env}/"
    manifests = [
        json.loads(m["Properties"]["Manifest"])
        for m in _resources(synthesized, env, "Custom::AWSCDK-EKS-KubernetesResource").values()
        if isinstance(m["Properties"]["Manifest"], str)
    ]
    stores = [m for doc in manifests for m in doc if m["kind"] == "ClusterSecretStore"]
    assert len(stores) == 1
    assert stores[0]["metadata"]["name"] == stack.secret_store_name
    assert stores[0]["spec"]["provider"] == {
        "aws": {"service": "SecretsManager", "region": cfg.region}
    }
    # Only named namespaces (the CRM's) may use the store.
    (condition,) = stores[0]["spec"]["conditions"]
    assert f"twenty-{env}" in condition["namespaces"]


def test_cluster_autoscaler_discovery_and_scoped_resize(synthesized, env: str, cfg):
    values = json.loads(_charts(synthesized, env)["cluster-autoscaler"]["Values"])
    assert values["autoDiscovery"] == {"clusterName": f"twenty-{env}"}
    assert values["awsRegion"] == cfg.region
    assert values["image"] == {"tag": cfg.cluster.addons.cluster_autoscaler_image}
    statements = _policy_statements(synthesized, env, "ClusterAutoscaler")
    (resize,) = [s for s in statements if "autoscaling:SetDesiredCapacity" in s["Action"]]
    assert resize["Condition"] == {
        "StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/twenty-{env}": "owned"}
    }


def test_addon_order(synthesized, env: str):
    """Node add-ons before nodes; CoreDNS and metrics-server after; charts after both."""
    resources = synthesized.template_json(f"twenty-{env}-cluster")["Resources"]
    addon_ids = {
        r["Properties"]["AddonName"]: k
        for k, r in _resources(synthesized, env, "AWS::EKS::Addon").items()
    }
    for tier in TIERS:
        group_id = next(
            k for k, r in _resources(synthesized, env, "AWS::EKS::Nodegroup").items()
            if r["Properties"]["Labels"] == {"tier": tier}
        )  # fmt: skip
        depends = resources[group_id]["DependsOn"]
        for name in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
            assert addon_ids[name] in depends
        for name in ("coredns", "metrics-server"):
            assert group_id in resources[addon_ids[name]]["DependsOn"]
    for chart_id in _resources(synthesized, env, "Custom::AWSCDK-EKS-HelmChart"):
        depends = resources[chart_id]["DependsOn"]
        assert addon_ids["coredns"] in depends and addon_ids["eks-pod-identity-agent"] in depends


def test_stack_outputs(synthesized, env: str):
    outputs = synthesized.template_json(f"twenty-{env}-cluster")["Outputs"]
    for name in ("ClusterName", "SecretStoreName", "SecretNamePrefix"):
        assert name in outputs


def test_nag_acknowledgements_name_their_constructs(synthesized, env: str):
    """Only CDK's provider Lambdas, AWS-managed EKS policies and published controller policies."""
    stack = synthesized.estates[env].cluster
    allowed_paths = (
        "ControlPlane/Cluster/KubectlProvider/",
        "ControlPlane/Cluster/Role",
        "NodeRole",
        "VpcCni/Role",
        "AwsLoadBalancerController/ServiceAccount/Role/DefaultPolicy",
        "ClusterAutoscaler/ServiceAccount/Role/DefaultPolicy",
        "CloudWatchObservability/Role/DefaultPolicy",
        "Keda/ServiceAccount/Role/DefaultPolicy",
    )
    assert stack.acknowledgements
    for ack in stack.acknowledgements:
        relative = ack.path.removeprefix(f"{stack.node.path}/")
        assert relative.startswith(allowed_paths), ack
        assert "IAM5" not in ack.rule_id or "[Resource::" in ack.rule_id, ack


def test_cluster_log_groups_exist_before_the_cluster_with_our_key(
    synthesized, env: str, cfg: EnvironmentConfig
):
    resources = synthesized.template_json(f"twenty-{env}-cluster")["Resources"]
    groups = {
        r["Properties"]["LogGroupName"]: (lid, r)
        for lid, r in resources.items()
        if r["Type"] == "AWS::Logs::LogGroup"
        and isinstance(r["Properties"].get("LogGroupName"), str)
    }
    name = f"twenty-{env}"
    expected = {f"/aws/eks/{name}/cluster"} | {
        f"/aws/containerinsights/{name}/{kind}"
        for kind in ("application", "dataplane", "host", "performance")
    }
    assert expected <= set(groups)
    for group_name in expected:
        _, group = groups[group_name]
        assert group["Properties"]["RetentionInDays"] == cfg.cluster.log_retention_days
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["ClusterLogsKey", "Arn"]}
        assert group["DeletionPolicy"] == "Retain"
    (cluster_id,) = [k for k, r in resources.items() if r["Type"] == "AWS::EKS::Cluster"]
    control_plane_id = groups[f"/aws/eks/{name}/cluster"][0]
    assert control_plane_id in resources[cluster_id]["DependsOn"]


def test_cloudwatch_agent_role_is_scoped(synthesized, env: str):
    addon = _addons(synthesized, env)["amazon-cloudwatch-observability"]
    (association,) = addon["PodIdentityAssociations"]
    assert association["ServiceAccount"] == "cloudwatch-agent"
    resources = synthesized.template_json(f"twenty-{env}-cluster")["Resources"]
    role_id = association["RoleArn"]["Fn::GetAtt"][0]
    assert "ManagedPolicyArns" not in resources[role_id]["Properties"]
    (policy,) = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
    ]
    statements = {
        s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"] if "Sid" in s
    }
    assert statements["ContainerInsightsMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "ContainerInsights"}
    }
    assert "*" not in json.dumps(statements["WriteClusterLogGroups"]["Resource"]).replace(":*", "")


# --------------------------------------------------------------------------- KEDA


def _manifests_under(synthesized: SynthesizedEstate, env: str, path_part: str) -> list[Any]:
    """Kubernetes objects of the cluster stack's manifests whose construct path has `path_part`."""
    found = []
    template = synthesized.template_json(f"twenty-{env}-cluster")
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "Custom::AWSCDK-EKS-KubernetesResource" and path_part in logical_id:
            manifest = resource["Properties"]["Manifest"]
            if isinstance(manifest, str):  # token-free manifests (Fn::Join otherwise)
                found.extend(json.loads(manifest))
    return found


def test_keda_role_reads_metrics_only(synthesized, env: str):
    statements = _policy_statements(synthesized, env, "KedaServiceAccount")
    assert statements == [
        {"Action": "cloudwatch:GetMetricData", "Effect": "Allow", "Resource": "*"}
    ]


def test_keda_values_restrict_secrets_and_size_replicas(synthesized, env: str, cfg):
    values = json.loads(_charts(synthesized, env)["keda"]["Values"])
    assert values["permissions"] == {"operator": {"restrict": {"secret": True}}}
    assert values["serviceAccount"]["operator"] == {"create": False, "name": "keda-operator"}
    assert values["operator"]["replicaCount"] == cfg.cluster.controller_replicas
    assert values["prometheus"] == {"operator": {"enabled": True, "port": 8080}}
    assert _charts(synthesized, env)["keda"]["Namespace"] == "keda"


def test_keda_namespace_restricted_and_policies(synthesized, env: str, cfg):
    objects = _manifests_under(synthesized, env, "Keda")
    (namespace,) = [o for o in objects if o["kind"] == "Namespace"]
    assert namespace["metadata"]["name"] == "keda"
    assert {
        k: v for k, v in namespace["metadata"]["labels"].items() if k.startswith("pod-security")
    } == {f"pod-security.kubernetes.io/{m}": "restricted" for m in ("enforce", "audit", "warn")}
    policies = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "NetworkPolicy"}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    private = [{"ipBlock": {"cidr": str(c)}} for c in cfg.network.private_subnets]
    # The control plane (ENIs in the private subnets) is the only caller of the webhooks and
    # the metrics API; the operator's gRPC port admits only the metrics API server.
    assert policies["keda-admission-webhooks"]["ingress"] == [
        {"from": private, "ports": [{"protocol": "TCP", "port": 9443}]}
    ]
    assert policies["keda-operator-metrics-apiserver"]["ingress"] == [
        {"from": private, "ports": [{"protocol": "TCP", "port": 6443}]}
    ]
    assert policies["keda-operator"]["ingress"] == [
        {
            "from": [{"podSelector": {"matchLabels": {"app": "keda-operator-metrics-apiserver"}}}],
            "ports": [{"protocol": "TCP", "port": 9666}],
        },
        # the managed scraper's ENIs (job keda of monitoring/scrape.yaml)
        {"from": private, "ports": [{"protocol": "TCP", "port": 8080}]},
    ]
    redis = policies["keda-operator"]["egress"][-1]
    assert redis == {"to": private, "ports": [{"protocol": "TCP", "port": 6379}]}
