"""Does the parent domain delegate the environment's zone to that zone's name servers?

The parent's NS record for the environment's domain is read from Route53 when the parent zone
is in the same account (`list_resource_record_sets`), otherwise from the parent's own name
servers over DNS (dnspython, a non-recursive query: the referral is the delegation, whatever
the child zone says about itself). Checks take the DNS lookup as a parameter so tests fake it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import dns.resolver

from infra.ops.report import Finding

ParentLookup = Callable[[str, str], set[str]]
CHECK = "dns delegation"


def normalize(name: str) -> str:
    return name.lower().rstrip(".")


def parent_of(domain: str) -> str:
    return domain.split(".", 1)[1]


def dns_parent_delegation(domain: str, parent: str) -> set[str]:
    """NS names the parent's authoritative servers hand out for `domain` (empty: none)."""
    parent_servers = sorted(
        normalize(r.target.to_text()) for r in dns.resolver.resolve(parent, "NS")
    )
    query = dns.message.make_query(domain, dns.rdatatype.NS)
    query.flags &= ~dns.flags.RD
    last_error: Exception | None = None
    for server in parent_servers:
        try:
            address = next(iter(dns.resolver.resolve(server, "A"))).to_text()
            answer = dns.query.udp(query, address, timeout=5)
        except (dns.exception.DNSException, OSError) as exc:
            last_error = exc
            continue
        return {
            normalize(rdata.target.to_text())
            for rrset in (*answer.authority, *answer.answer)
            if rrset.rdtype == dns.rdatatype.NS and normalize(rrset.name.to_text()) == domain
            for rdata in rrset
        }
    raise OSError(f"no name server of {parent} answered: {last_error}")


def route53_parent_delegation(route53: Any, domain: str, parent: str) -> set[str] | None:
    """The NS record for `domain` in the parent's public zone if that zone is in this account,
    an empty set if the zone has no such record, None if the zone is not here."""
    zones = route53.list_hosted_zones_by_name(DNSName=parent, MaxItems="1")["HostedZones"]
    zone = next(
        (
            z
            for z in zones
            if normalize(z["Name"]) == parent and not z.get("Config", {}).get("PrivateZone")
        ),
        None,
    )
    if zone is None:
        return None
    records = route53.list_resource_record_sets(
        HostedZoneId=zone["Id"], StartRecordName=domain, StartRecordType="NS", MaxItems="1"
    )["ResourceRecordSets"]
    return {
        normalize(r["Value"])
        for record in records
        if normalize(record["Name"]) == domain and record["Type"] == "NS"
        for r in record.get("ResourceRecords", [])
    }


def check_delegation(
    route53: Any, zone_id: str, domain: str, lookup: ParentLookup = dns_parent_delegation
) -> Finding:
    """The zone's name servers (Route53) against what its parent delegates to."""
    zone_ns = {
        normalize(n) for n in route53.get_hosted_zone(Id=zone_id)["DelegationSet"]["NameServers"]
    }
    parent = parent_of(domain)
    delegated = route53_parent_delegation(route53, domain, parent)
    source = f"Route53 zone {parent}"
    if delegated is None:
        source = f"the name servers of {parent}"
        try:
            delegated = lookup(domain, parent)
        except (dns.exception.DNSException, OSError) as exc:
            return Finding(CHECK, False, f"cannot read the delegation of {domain}: {exc}")
    wanted = ", ".join(sorted(zone_ns))
    if not delegated:
        return Finding(
            CHECK,
            False,
            f"{source} has no NS record for {domain}; create one with {wanted} (README, "
            "'Delegating an environment's DNS zone')",
        )
    if delegated != zone_ns:
        return Finding(
            CHECK,
            False,
            f"{source} delegates {domain} to {', '.join(sorted(delegated))}, but the zone's "
            f"name servers are {wanted}; update the NS record in {parent}",
        )
    return Finding(CHECK, True, f"{source} delegates {domain} to the zone ({wanted})")
