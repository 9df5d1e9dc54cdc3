"""The security group of an internet-facing ALB and the one door it opens into the workload.

Egress rules are inline (security-group-id peers), so the group's egress list is exactly those
rules: a standalone egress resource would leave EC2's default allow-all egress in place. The
matching ingress on the workload group is created here, in the ALB's stack, so that the stack
owning the workload group never depends on the ALB's stack.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.nag import skip_checkov


class AlbSecurityGroup(Construct):
    """`self.security_group`: 80/443 in from anywhere; out only to `workload` on `ports`."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        workload: ec2.ISecurityGroup,
        ports: Iterable[int],
    ) -> None:
        super().__init__(scope, id)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Internet-facing ALB: HTTP and HTTPS from anywhere, pods only behind",
            allow_all_outbound=False,
        )
        for port, what in ((80, "HTTP, redirected to HTTPS"), (443, "HTTPS")):
            self.security_group.add_ingress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(port), f"{what} from the internet"
            )
        skip_checkov(
            self.security_group,
            "CKV_AWS_260",
            "The public ALB's port 80 only answers with a redirect to HTTPS (the listener has "
            "no other action), so clients that type http:// still arrive",
        )
        workload_peer = ec2.Peer.security_group_id(workload.security_group_id)
        for port in sorted(set(ports)):
            self.security_group.add_egress_rule(
                workload_peer, ec2.Port.tcp(port), f"To Twenty pods on {port}"
            )
            ec2.CfnSecurityGroupIngress(
                self,
                f"WorkloadIngress{port}",
                group_id=workload.security_group_id,
                source_security_group_id=self.security_group.security_group_id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description=f"From the ALB to Twenty pods on {port}",
            )
