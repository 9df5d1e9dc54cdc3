"""The public hosted zone and its certificate."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import (
    Field,
    field_validator,
)

from infra.config.aws_limits import AwsLimit, shape
from infra.config.base import Strict


def within_domain(name: str, domain: str) -> bool:
    """`name` (or the wildcard's base) is `domain` or one of its subdomains."""
    bare = name.removeprefix("*.")
    return bare == domain or bare.endswith("." + domain)


class DnsConfig(Strict):
    """The environment's public hosted zone and TLS certificate (seeds DNS-101/102)."""

    subject_alternative_names: Annotated[
        list[str],
        AwsLimit((shape("acm", "DomainList"),)),
        AwsLimit((shape("acm", "DomainNameString"),), part="items"),
    ] = Field(
        default_factory=list,
        description="Extra names on the ACM certificate besides `domain_name`, e.g. "
        "`*.mgenial.olhai.app.br`. Each must be inside `domain_name`, because the certificate is "
        "validated by DNS records in the environment's own zone.",
    )

    @field_validator("subject_alternative_names")
    @classmethod
    def _names_shape(cls, names: list[str]) -> list[str]:
        for name in names:
            if not re.fullmatch(r"(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", name):
                raise ValueError(f"{name!r} is not a lower-case DNS name (a leading *. is allowed)")
        if len(set(names)) != len(names):
            raise ValueError("lists a name twice; give each name once")
        return names
