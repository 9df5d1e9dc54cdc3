"""`cost`, `diagram` and `prices`: the monthly estimate and the Mermaid picture of each
environment, both read from the synthesized templates, and the refresh of the price files they
use (docs/cost.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from infra.cli import EXIT_BAD_INPUT, usable_directory
from infra.config import environment_files, load_all, load_environment

if TYPE_CHECKING:
    from infra.cli import _Parser

COST_EXIT_CODES = """exit codes:
  0  estimate printed (with --strict: and every resource priced or deliberately free)
  1  --strict and some resource is "not priced" (listed in the report)
  2  bad input: unknown environment, a missing or malformed price file, a bad config,
     an --outdir that is a file or not writable, a corrupt cloud assembly

Templates come from --outdir (default cdk.out) when it is newer than config and code, else the
estate is synthesized first. Prices: infra/cost/prices/<region>.json (`make prices`)."""


def _environments(env: str | None) -> list[str]:
    return [load_environment(env).name] if env else [c.name for c in load_all(environment_files())]


def _progress(tool: str, line: str) -> None:
    from infra.ops import progress

    progress.step(line)
    progress.say(f"{tool}: {line}")


def _estate_assembly(args: argparse.Namespace, tool: str) -> tuple[list[str], Path]:
    from infra.app import ROOT
    from infra.cost.command import ensure_assembly

    envs = _environments(args.env)
    outdir = usable_directory("--outdir", args.outdir)
    assembly = ensure_assembly(
        ROOT,
        outdir,
        args.env,
        envs,
        force=args.synth,
        progress=lambda line: _progress(tool, line),
    )
    return envs, assembly


def _cost(args: argparse.Namespace) -> int:
    from infra.cost.command import environment_costs
    from infra.cost.estimate import render
    from infra.cost.prices import PriceFileError

    envs, assembly = _estate_assembly(args, "cost")
    try:
        costs = environment_costs(assembly, envs)
    except PriceFileError as exc:
        print(f"cost: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(render(costs, resources=args.resources))
    return 1 if args.strict and any(c.unpriced for c in costs) else 0


def _diagram(args: argparse.Namespace) -> int:
    from infra.diagram import page_path, render_page
    from infra.review.assembly import stacks_by_environment

    directory = usable_directory("--docs-dir", args.docs_dir)
    envs, assembly = _estate_assembly(args, "diagram")
    stacks = stacks_by_environment(assembly)
    directory.mkdir(parents=True, exist_ok=True)
    for env in envs:
        path = page_path(env, directory)
        path.write_text(render_page(env, stacks.get(env, {})))
        print(f"wrote {path}")
    return 0


PRICES_EXIT_CODES = """exit codes:
  0  every price refreshed and written
  1  written, but some keys matched no product or several prices: they keep their previous
     value and are listed under not_refreshed (fix their Query in infra/cost/refresh.py)
  2  bad input (unknown environment or region, malformed price file); no AWS credentials

Needs AWS credentials (any account: the Price List API is read-only and free)."""


def _prices(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from infra.cost.prices import (
        PRICE_DIR,
        PriceBook,
        PriceFileError,
        dump_prices,
        load_prices,
        price_file,
    )
    from infra.cost.refresh import PRICING_REGION, refresh
    from infra.ops.aws import Aws, describe, unusable_line

    configs = [load_environment(args.env)] if args.env else load_all(environment_files())
    directory = usable_directory("--price-dir", args.price_dir) if args.price_dir else PRICE_DIR
    status = 0
    for region in sorted({c.region for c in configs}):
        try:
            previous = load_prices(region, directory)
        except PriceFileError:
            previous = PriceBook(region, "", "", price_file(region, directory))
        in_region = [c for c in configs if c.region == region]
        instance_types = {c.database.instance_type for c in in_region}
        for c in in_region:
            groups = c.cluster.node_groups
            for tier in type(groups).model_fields:
                instance_types.update(getattr(groups, tier).instance_types)
        cache_nodes = {(c.redis.engine, c.redis.node_type) for c in in_region}
        print(f"prices: asking the Price List API for {region} prices", file=sys.stderr)
        client = Aws(PRICING_REGION).client("pricing")
        try:
            result = refresh(client, previous, instance_types, cache_nodes)
        except (BotoCoreError, ClientError) as exc:
            print(
                f"prices: {unusable_line(exc) or 'AWS refused: ' + describe(exc)}", file=sys.stderr
            )
            return EXIT_BAD_INPUT
        for line in result.failed:
            print(f"prices: not refreshed: {line}", file=sys.stderr)
        extra = (
            {"not_refreshed": [f.split(":", 1)[0] for f in result.failed]} if result.failed else {}
        )
        path = price_file(region, directory)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_prices(result.book, **extra))
        print(f"wrote {path}")
        status = max(status, 1 if result.failed else 0)
    return status


def add_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    cost = commands.add_parser(
        "cost",
        help="monthly estimate per environment and per stack from the synthesized templates",
        description="Price every resource of the synthesized stacks: node groups at desired and"
        " at max size, the database host and volumes, NAT, ALB, EKS, Redis, logs, alarms,"
        " secrets, keys, zones, WAF, backups. Usage a template cannot state is a printed"
        " assumption; a resource without a rule or a price is listed as not priced.",
        epilog=COST_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    diagram = commands.add_parser(
        "diagram",
        help="write docs/estate/<env>.md, a Mermaid diagram of each environment",
        description="Draw each environment from its synthesized templates (zone, certificate,"
        " ALB, VPC with subnets per AZ and NAT, node groups, database host, Redis, buckets,"
        " monitoring) into docs/estate/<env>.md. Exit codes: 0 written; 2 bad input (config,"
        " an --outdir or --docs-dir that is a file or not writable, a corrupt assembly).",
    )
    for command in (cost, diagram):
        command.add_argument("--env", help="one environment (default: all)")
        command.add_argument("--outdir", default="cdk.out", help="cloud assembly to read")
        command.add_argument(
            "--synth", action="store_true", help="synthesize even if --outdir is current"
        )
    cost.add_argument("--resources", action="store_true", help="list every resource's charges")
    cost.add_argument(
        "--strict", action="store_true", help="exit 1 if any resource is not priced (CI)"
    )
    cost.set_defaults(run=_cost)
    diagram.add_argument("--docs-dir", default="docs/estate", help="where <env>.md is written")
    diagram.set_defaults(run=_diagram)
    prices = commands.add_parser(
        "prices",
        help="refresh infra/cost/prices/<region>.json from the AWS Price List API (make prices)",
        description="Ask the AWS Price List API (boto3 pricing get_products) for every rate"
        " of infra/cost/prices.py and every instance and cache node type the file or the"
        " config files name, in each configured region, and rewrite the price file.",
        epilog=PRICES_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    prices.add_argument("--env", help="only this environment's region (default: all)")
    prices.add_argument(
        "--price-dir", help="directory of <region>.json (default: infra/cost/prices)"
    )
    prices.set_defaults(run=_prices)
