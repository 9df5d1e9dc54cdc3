"""Will the CRM's pods fit on the node groups? Kubernetes quantities and node allocatable.

Allocatable follows the EKS AL2023 AMI (nodeadm) defaults, the same formula as the AL2 bootstrap:
- kube-reserved memory = 255 MiB + 11 MiB x max pods (VPC CNI ENI limit, no prefix delegation);
- kube-reserved CPU = 6% of the first core, 1% of the second, 0.5% of cores 3-4, 0.25% above;
- eviction threshold memory.available = 100 MiB;
- the kubelet sees about 94% of the nominal memory (firmware and kernel take the rest; a t3.medium
  reports 3,851 MiB of capacity for 4,096 MiB nominal).
A pod is placed where its *requests* fit; the DaemonSets of every node (VPC CNI, kube-proxy, Pod
Identity agent, ...) are a per-node overhead from config.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# instance type: (vCPUs, nominal memory MiB, max pods), from the EC2 instance type specs and
# the VPC CNI's eni-max-pods table. Add a row to use another type.
INSTANCE_TYPES: dict[str, tuple[int, int, int]] = {
    "t3.small": (2, 2048, 11),
    "t3.medium": (2, 4096, 17),
    "t3.large": (2, 8192, 35),
    "t3.xlarge": (4, 16384, 58),
    "t3.2xlarge": (8, 32768, 58),
    "m6i.large": (2, 8192, 29),
    "m6i.xlarge": (4, 16384, 58),
    "m6i.2xlarge": (8, 32768, 58),
    "m7i.large": (2, 8192, 29),
    "m7i.xlarge": (4, 16384, 58),
    "c6i.xlarge": (4, 8192, 58),
    "r6i.large": (2, 16384, 29),
}
KUBELET_VISIBLE_MEMORY = 0.94
EVICTION_MEMORY_MIB = 100

_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_MEMORY_FACTORS = {
    None: 1 / 2**20, "Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024**2,
    "k": 1000 / 2**20, "M": 10**6 / 2**20, "G": 10**9 / 2**20, "T": 10**12 / 2**20,
}  # fmt: skip


def cpu_millicores(quantity: str) -> int:
    """'2' -> 2000, '500m' -> 500, '0.5' -> 500; ValueError for anything else."""
    match = _CPU.match(quantity)
    if not match:
        raise ValueError(f"{quantity!r} is not a CPU quantity such as 500m or 2")
    number, milli = float(match.group(1)), match.group(2)
    return math.ceil(number if milli else number * 1000)


def memory_mib(quantity: str) -> int:
    """'4Gi' -> 4096, '512Mi' -> 512; ValueError for anything else."""
    match = _MEMORY.match(quantity)
    if not match:
        raise ValueError(f"{quantity!r} is not a memory quantity such as 512Mi or 4Gi")
    return math.ceil(int(match.group(1)) * _MEMORY_FACTORS[match.group(2)])


@dataclass(frozen=True)
class Allocatable:
    """What the kubelet of one node offers pods."""

    cpu_m: int
    memory_mib: int
    pods: int


def _kube_reserved_cpu_m(vcpus: int) -> int:
    reserved = 60.0
    if vcpus >= 2:
        reserved += 10
    reserved += 5 * max(0, min(vcpus, 4) - 2)
    reserved += 2.5 * max(0, vcpus - 4)
    return math.ceil(reserved)


def allocatable(instance_type: str) -> Allocatable:
    """Allocatable of `instance_type` under the EKS AL2023 defaults (KeyError if unknown)."""
    vcpus, memory, max_pods = INSTANCE_TYPES[instance_type]
    reserved_memory = 255 + 11 * max_pods
    return Allocatable(
        cpu_m=vcpus * 1000 - _kube_reserved_cpu_m(vcpus),
        memory_mib=math.floor(memory * KUBELET_VISIBLE_MEMORY)
        - reserved_memory
        - EVICTION_MEMORY_MIB,
        pods=max_pods,
    )


@dataclass(frozen=True)
class PodSet:
    """`count` pods of one Deployment, each requesting `cpu_m` and `memory_mib`."""

    name: str
    count: int
    cpu_m: int
    memory_mib: int


# Node group (tier) -> the Deployments scheduled on it (nodeSelector tier=<tier>).
TIERS: dict[str, tuple[str, ...]] = {"frontend": ("frontend",), "backend": ("backend", "worker")}


@dataclass(frozen=True)
class TierFit:
    """One node group at its minimum size against its Deployments' replicas plus one surge."""

    node: Allocatable
    overhead: Allocatable
    pods: list[PodSet]
    left: list[str]


def smallest_node(instance_types: list[str]) -> Allocatable:
    """The group's smallest type decides: any node may be of that type."""
    return min((allocatable(t) for t in instance_types), key=lambda a: (a.memory_mib, a.cpu_m))


def unplaced_pods(
    pods: list[PodSet], *, nodes: int, node: Allocatable, overhead: Allocatable
) -> list[str]:
    """First-fit-decreasing placement of `pods` on `nodes` equal nodes; names of pods left over.

    Each node first gives `overhead` (its DaemonSets) away; what remains holds the pods.
    """
    free = [
        [
            node.cpu_m - overhead.cpu_m,
            node.memory_mib - overhead.memory_mib,
            node.pods - overhead.pods,
        ]
        for _ in range(nodes)
    ]
    ordered = sorted(
        (p for p in pods for _ in range(p.count)),
        key=lambda p: (p.memory_mib, p.cpu_m),
        reverse=True,
    )
    left = []
    for pod in ordered:
        for slot in free:
            if slot[0] >= pod.cpu_m and slot[1] >= pod.memory_mib and slot[2] >= 1:
                slot[0] -= pod.cpu_m
                slot[1] -= pod.memory_mib
                slot[2] -= 1
                break
        else:
            left.append(pod.name)
    return left


@dataclass(frozen=True)
class ConnectionBudget:
    """PostgreSQL connections the CRM may open at most, against the app role's limit.

    Each Deployment at `max_replicas`, the migration Job (one pod, the backend's pool) and a
    reserve; every process opens `pools_per_process` pools of its pool size (Twenty's core and
    workspace datasources, infra/twenty/contract.yaml).
    """

    per_deployment: dict[str, tuple[int, int]]  # name -> (max replicas, connections per pod)
    job: int
    reserve: int
    limit: int

    @property
    def total(self) -> int:
        return sum(n * c for n, c in self.per_deployment.values()) + self.job + self.reserve

    @property
    def fits(self) -> bool:
        return self.total <= self.limit

    def explain(self) -> str:
        """One line: the sum, its parts and the limit."""
        parts = " + ".join(f"{n} {name} x {c}" for name, (n, c) in self.per_deployment.items())
        return (
            f"{parts} + job {self.job} + reserve {self.reserve} = {self.total} connections, "
            f"above the database role's limit of {self.limit}"
        )
