"""`make prices`: the Price List API refresh, against botocore's Stubber (no network)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from infra.cost.prices import PriceBook, dump_prices, load_prices
from infra.cost.refresh import (
    PRICING_REGION,
    RATE_QUERIES,
    PriceQueryError,
    Query,
    cache_node_query,
    fetch,
    instance_query,
    refresh,
)

REGION = "sa-east-1"


def _product(usagetype: str, *tiers: tuple[str, str]) -> str:
    """One get_products PriceList entry: on-demand dimensions (beginRange, USD)."""
    dimensions = {
        f"SKU.TERM.D{i}": {"beginRange": begin, "unit": "Hrs", "pricePerUnit": {"USD": usd}}
        for i, (begin, usd) in enumerate(tiers)
    }
    return json.dumps(
        {
            "product": {"sku": "SKU", "attributes": {"usagetype": usagetype}},
            "terms": {"OnDemand": {"SKU.TERM": {"priceDimensions": dimensions}}},
        }
    )


def _filters(query: Query) -> list[dict[str, str]]:
    filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in query.filters.items()]
    if query.regional:
        filters.insert(0, {"Type": "TERM_MATCH", "Field": "regionCode", "Value": REGION})
    return filters


def _params(query: Query, token: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "ServiceCode": query.service,
        "Filters": _filters(query),
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    if token:
        params["NextToken"] = token
    return params


@pytest.fixture
def pricing() -> Any:
    return boto3.client(
        "pricing",
        region_name=PRICING_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_fetch_reads_every_page_and_the_first_paid_tier(pricing: Any) -> None:
    query = RATE_QUERIES["vpc.nat_gateway.hour"]
    with Stubber(pricing) as stub:
        stub.add_response(
            "get_products",
            {"PriceList": [_product("SAE1-NatGateway-Bytes", ("0", "0.093"))], "NextToken": "p2"},
            _params(query),
        )
        stub.add_response(
            "get_products",
            {"PriceList": [_product("SAE1-NatGateway-Hours", ("0", "0"), ("1", "0.093"))]},
            _params(query, "p2"),
        )
        assert fetch(pricing, "vpc.nat_gateway.hour", query, REGION) == pytest.approx(0.093)
        stub.assert_no_pending_responses()


def test_scale_converts_the_api_unit(pricing: Any) -> None:
    query = RATE_QUERIES["ses.thousand_emails"]
    with Stubber(pricing) as stub:
        stub.add_response(
            "get_products",
            {"PriceList": [_product("SAE1-Recipients", ("0", "0.0001"))]},
            _params(query),
        )
        assert fetch(pricing, "ses", query, REGION) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "products",
    [
        [],
        [
            _product("SAE1-BoxUsage:t3.medium", ("0", "0.1")),
            _product("X-BoxUsage:t3.medium", ("0", "0.2")),
        ],
    ],
    ids=["no product", "two prices"],
)
def test_no_match_or_ambiguity_is_an_error_naming_the_key(
    pricing: Any, products: list[str]
) -> None:
    query = instance_query("t3.medium")
    with Stubber(pricing) as stub:
        stub.add_response("get_products", {"PriceList": products}, _params(query))
        with pytest.raises(PriceQueryError, match=r"instances\.t3\.medium: AmazonEC2"):
            fetch(pricing, "instances.t3.medium", query, REGION)


def test_refresh_rewrites_the_book_and_keeps_failed_keys(pricing: Any, tmp_path: Path) -> None:
    previous = PriceBook(
        REGION,
        "2026-01-01",
        "hand",
        tmp_path / f"{REGION}.json",
        instances={"t3.medium": 0.5},
        cache_nodes={},
        rates={"kms.key.month": 7.0},
    )
    expected: dict[str, float] = {}
    with Stubber(pricing) as stub:
        calls = [(key, query) for key, query in RATE_QUERIES.items()]
        calls += [("instances.t3.large", instance_query("t3.large"))]
        calls += [("instances.t3.medium", instance_query("t3.medium"))]
        calls += [("cache.valkey", cache_node_query("valkey", "cache.t4g.micro"))]
        for index, (key, query) in enumerate(calls):
            if key == "kms.key.month":  # the API answers nothing: the old value stays
                stub.add_response("get_products", {"PriceList": []}, _params(query))
                continue
            usd = round(0.01 * (index + 1), 4)
            usage = f"SAE1-{query.usagetype_suffix}"
            stub.add_response(
                "get_products", {"PriceList": [_product(usage, ("0", str(usd)))]}, _params(query)
            )
            expected[key] = usd * query.scale
        result = refresh(
            pricing,
            previous,
            instance_types=["t3.large"],
            cache_nodes=[("valkey", "cache.t4g.micro")],
            today=date(2026, 12, 1),
        )
        stub.assert_no_pending_responses()
    assert [line.split(":")[0] for line in result.failed] == ["kms.key.month"]
    book = result.book
    assert book.rates["kms.key.month"] == 7.0
    assert book.rates["eks.cluster.hour"] == pytest.approx(expected["eks.cluster.hour"])
    assert book.instances == {
        "t3.large": pytest.approx(expected["instances.t3.large"]),
        "t3.medium": pytest.approx(expected["instances.t3.medium"]),
    }
    assert book.cache_nodes["valkey"]["cache.t4g.micro"] == pytest.approx(expected["cache.valkey"])
    assert book.as_of == "2026-12-01" and "Price List API" in book.source
    # what `make prices` writes is a price file the estimate can load
    book.path.write_text(dump_prices(book, not_refreshed=["kms.key.month"]))
    assert load_prices(REGION, tmp_path).rates == book.rates
