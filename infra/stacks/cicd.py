"""`twenty-<env>-cicd`: the role GitHub Actions assumes to deploy the environment, via OIDC.

No long-lived AWS key exists anywhere: a deploy job presents GitHub's OIDC token, and this
role's trust policy admits it only if the token was minted for this repository (by name and by
immutable id) and for a job running in this environment's GitHub environment, whose protection
rules (required reviewers) GitHub enforces before it mints the token. The role itself can do one
thing: assume the CDK bootstrap roles of its account and region, which CloudFormation deploys
with. The stack depends on no other stack (deploy wave 1) and is bootstrapped once with local
credentials (README, "Wiring a repository").
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import CicdConfig, GitHubRepositoryConfig, Site
from infra.constructs.stateful import pin_logical_id
from infra.naming import deploy_role_name, partition_of
from infra.stacks.base import EstateStack

GITHUB_OIDC_ISSUER = "token.actions.githubusercontent.com"
# The audience aws-actions/configure-aws-credentials requests for AWS (its default `audience`).
GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com"
# The roles `cdk bootstrap` creates; the CLI assumes them to publish assets, look up and deploy.
BOOTSTRAP_ROLE_KINDS = ("deploy", "file-publishing", "image-publishing", "lookup")
# A whole environment's first deploy (EKS cluster, node groups, add-ons) takes longer than the
# one-hour default: the job's own session must outlive it.
DEPLOY_SESSION = Duration.hours(3)


def subject_claims(repository: GitHubRepositoryConfig, github_environment: str) -> list[str]:
    """The `sub` of a job in `github_environment` of `repository`, in both of GitHub's formats.

    Classic: `repo:<owner>/<repo>:environment:<env>`. Repositories created or renamed after
    2026-07-15, or opted in, use immutable subject claims, where each name carries its numeric
    id after an `@`: `repo:<owner>@<owner id>/<repo>@<repo id>:environment:<env>` (GitHub Docs,
    "OpenID Connect reference", section "Immutable subject claims",
    https://docs.github.com/en/actions/reference/security/oidc#immutable-subject-claims).
    A token carries one format or the other; listing both keeps the role working across an
    opt-in, and each is exact (StringEquals), so neither admits another owner or repository.
    """
    r = repository
    return [
        f"repo:{r.owner}/{r.name}:environment:{github_environment}",
        f"repo:{r.owner}@{r.owner_id}/{r.name}@{r.repository_id}:environment:{github_environment}",
    ]


def bootstrap_role_arns(site: Site, qualifier: str) -> list[str]:
    """The CDK bootstrap roles of the account and region: `cdk-<qualifier>-<kind>-role-...`."""
    partition = partition_of(site.region)
    return [
        f"arn:{partition}:iam::{site.account}:role/"
        f"cdk-{qualifier}-{kind}-role-{site.account}-{site.region}"
        for kind in BOOTSTRAP_ROLE_KINDS
    ]


class CicdStack(EstateStack):
    """The GitHub OIDC provider (or the account's existing one) and the environment's deploy
    role, trusted by one repository's jobs in one GitHub environment."""

    def __init__(
        self,
        scope: Construct,
        *,
        site: Site,
        cicd: CicdConfig,
        github_environment: str,
        recovery_site: Site | None = None,
    ) -> None:
        """`recovery_site`: where `twenty-<env>-recovery` deploys; the role may assume that
        region's (and account's) bootstrap roles too."""
        super().__init__(
            scope,
            site=site,
            part="cicd",
            description="Twenty CRM: GitHub Actions OIDC deploy role",
        )
        if cicd.oidc_provider == "create":
            provider = iam.CfnOIDCProvider(
                self,
                "GitHubOidcProvider",
                url=f"https://{GITHUB_OIDC_ISSUER}",
                client_id_list=[GITHUB_OIDC_AUDIENCE],
            )
            # An account has one provider per issuer, and the other environments of the account
            # (oidc_provider: existing) trust it too: it outlives this stack, under a fixed id.
            provider.apply_removal_policy(RemovalPolicy.RETAIN)
            provider_arn = provider.attr_arn
        else:
            provider_arn = (
                f"arn:{partition_of(site.region)}:iam::{site.account}:oidc-provider/"
                f"{GITHUB_OIDC_ISSUER}"
            )
        self.subjects = subject_claims(cicd.repository, github_environment)
        self.deploy_role = iam.Role(
            self,
            "DeployRole",
            role_name=deploy_role_name(site.environment),
            description=(
                f"GitHub Actions deploys of {site.environment} from "
                f"{cicd.repository.full_name}, environment {github_environment}"
            ),
            max_session_duration=DEPLOY_SESSION,
            assumed_by=iam.WebIdentityPrincipal(
                provider_arn,
                conditions={
                    "StringEquals": {
                        f"{GITHUB_OIDC_ISSUER}:aud": GITHUB_OIDC_AUDIENCE,
                        f"{GITHUB_OIDC_ISSUER}:sub": self.subjects,
                    }
                },
            ),
        )
        # fixed name: a replacement under a new logical id would collide with the old role's
        pin_logical_id(self.deploy_role, "DeployRole")
        self.deploy_role.add_to_policy(
            iam.PolicyStatement(
                sid="AssumeCdkBootstrapRoles",
                actions=["sts:AssumeRole"],
                resources=bootstrap_role_arns(site, cicd.bootstrap_qualifier),
            )
        )
        # ---- recovery region (issue 22): the recovery stack deploys with that region's (and
        # account's, which must trust this one: `cdk bootstrap --trust`) bootstrap roles.
        if recovery_site is not None:
            self.deploy_role.add_to_policy(
                iam.PolicyStatement(
                    sid="AssumeRecoveryRegionCdkBootstrapRoles",
                    actions=["sts:AssumeRole"],
                    resources=bootstrap_role_arns(recovery_site, cicd.bootstrap_qualifier),
                )
            )
        CfnOutput(
            self,
            "DeployRoleArn",
            value=self.deploy_role.role_arn,
            description="role-to-assume of aws-actions/configure-aws-credentials",
        )
