"""Outbound e-mail: the SES domain identity of the environment and Twenty's SMTP settings."""

from __future__ import annotations

from pydantic import Field, field_validator

from infra.config.base import Strict

# SES SMTP ports with STARTTLS (25, 587, 2587) or TLS from the first byte (465, 2465).
SES_SMTP_PORTS = (25, 465, 587, 2465, 2587)


class EmailConfig(Strict):
    """Invitations and password resets leave through Amazon SES (seeds are silent on mail)."""

    sender_local_part: str = Field(
        default="noreply",
        pattern=r"^[a-z0-9][a-z0-9._+-]{0,63}$",
        description="Local part of the sender address; the domain is always `domain_name`, the "
        "identity SES verifies (EMAIL_FROM_ADDRESS = <this>@<domain_name>).",
    )
    sender_name: str = Field(
        default="Twenty CRM",
        min_length=1,
        max_length=64,
        description="Display name of the sender (EMAIL_FROM_NAME).",
    )
    mail_from_subdomain: str = Field(
        default="bounce",
        pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
        description="Custom MAIL FROM domain, <this>.<domain_name>: SES gets an MX and an SPF "
        "record there, so bounces and SPF align with the sender's domain (DMARC).",
    )
    smtp_port: int = Field(
        default=587,
        description="SES SMTP port Twenty connects to (EMAIL_SMTP_PORT): 587 = STARTTLS. One "
        f"of {', '.join(map(str, SES_SMTP_PORTS))}; the pods' NetworkPolicy opens only this one.",
    )

    @field_validator("smtp_port")
    @classmethod
    def _ses_port(cls, port: int) -> int:
        if port not in SES_SMTP_PORTS:
            raise ValueError(
                f"{port} is not an SES SMTP port; use one of "
                f"{', '.join(map(str, SES_SMTP_PORTS))} (587: STARTTLS)"
            )
        return port

    def sender_address(self, domain_name: str) -> str:
        return f"{self.sender_local_part}@{domain_name}"

    def mail_from_domain(self, domain_name: str) -> str:
        return f"{self.mail_from_subdomain}.{domain_name}"


def smtp_endpoint(region: str) -> str:
    """The SES SMTP interface of `region`."""
    return f"email-smtp.{region}.amazonaws.com"
