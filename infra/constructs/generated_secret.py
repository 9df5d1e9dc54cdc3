"""A Secrets Manager secret whose value AWS generates: it never passes through code or templates."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constructs.stateful import pin_logical_id


class GeneratedSecret(Construct):
    """`self.secret`: 64 letters and digits named `<prefix><name>`, encrypted by `key`, retained.

    Letters and digits only, so the value is valid as an ElastiCache AUTH token and needs no
    escaping in a URL. The logical id is pinned: a rename must not regenerate the value.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        name: str,
        description: str,
        key: kms.IKey,
        logical_id: str,
    ) -> None:
        super().__init__(scope, id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=f"{prefix}{name}",
            description=description,
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True, include_space=False
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        pin_logical_id(self.secret, logical_id)
