"""The GitHub repository whose Actions jobs deploy an environment, and how they are trusted.

The deploy role of `twenty-<env>-cicd` trusts GitHub's OIDC tokens of exactly this repository
and this GitHub environment (both `sub` claim formats), so every value here is part of a trust
policy: no wildcards, and the numeric ids as well as the names.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from infra.config.base import Strict

# GitHub logins: letters, digits and single hyphens, no leading hyphen, at most 39 characters.
_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
# Repository names: letters, digits, '.', '-', '_' (not '.' or '..').
_REPOSITORY = re.compile(r"[A-Za-z0-9._-]{1,100}")
# GitHub environment names end up in the `sub` claim after `environment:`; keep them plain.
_GITHUB_ENVIRONMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
# CDK bootstrap qualifiers: `cdk bootstrap --qualifier`, 1-10 lower-case letters and digits.
_QUALIFIER = re.compile(r"[a-z0-9]{1,10}")


class GitHubRepositoryConfig(Strict):
    """The repository by name and by its immutable ids (both appear in OIDC `sub` claims)."""

    owner: str = Field(
        description="Owner (user or organization login) of the repository, exactly; no wildcard."
    )
    name: str = Field(description="Repository name without the owner, exactly; no wildcard.")
    owner_id: int = Field(
        gt=0,
        description="Numeric id of the owner: `gh api users/<owner> --jq .id`. Repositories on "
        "immutable subject claims put it in the `sub` claim (`repo:<owner>@<owner_id>/...`).",
    )
    repository_id: int = Field(
        gt=0,
        description="Numeric id of the repository: `gh api repos/<owner>/<name> --jq .id`.",
    )

    @field_validator("owner")
    @classmethod
    def _owner_shape(cls, value: str) -> str:
        if not _OWNER.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a GitHub login (letters, digits, single hyphens; no wildcard)"
            )
        return value

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not _REPOSITORY.fullmatch(value) or value in (".", ".."):
            raise ValueError(
                f"{value!r} is not a GitHub repository name (letters, digits, . - _; no wildcard)"
            )
        return value

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class CicdConfig(Strict):
    """GitHub Actions deploys of this environment: the OIDC deploy role and the promotion gate."""

    repository: GitHubRepositoryConfig = Field(
        description="The one repository whose workflows may deploy this environment."
    )
    github_environment: str | None = Field(
        default=None,
        description="GitHub environment of the deploy job; the deploy role admits only jobs "
        "running in it. Default: the environment's `name`.",
    )
    deploy_after: str | None = Field(
        default=None,
        description="Environment whose deploy must succeed first in the main-branch workflow "
        "(qa after dev, prod after qa); empty for the first.",
    )
    approval_required: bool = Field(
        default=False,
        description="The GitHub environment must have required reviewers: the deploy job "
        "checks it through the GitHub API and stops before taking AWS credentials if not.",
    )
    oidc_provider: Literal["create", "existing"] = Field(
        default="create",
        description="`create` the account's GitHub OIDC provider in this stack, or use the "
        "`existing` one (an account has at most one per issuer URL: when environments share "
        "an account, one creates it and the others say existing).",
    )
    bootstrap_qualifier: str = Field(
        default="hnb659fds",
        description="Qualifier of the account's CDK bootstrap (`cdk bootstrap --qualifier`); "
        "the deploy role may assume only that bootstrap's roles.",
    )

    @field_validator("github_environment")
    @classmethod
    def _environment_shape(cls, value: str | None) -> str | None:
        if value is not None and not _GITHUB_ENVIRONMENT.fullmatch(value):
            raise ValueError(f"{value!r} must be letters, digits, . - _ (no ':' or wildcard)")
        return value

    @field_validator("bootstrap_qualifier")
    @classmethod
    def _qualifier_shape(cls, value: str) -> str:
        if not _QUALIFIER.fullmatch(value):
            raise ValueError(f"{value!r} must be 1-10 lower-case letters or digits, e.g. hnb659fds")
        return value
