"""`make bench`: wall time of a whole-estate synth next to the floor of a bare CDK App.

Each run is a fresh interpreter (as `make synth` and `cdk synth` are), so jsii start-up is in
both numbers; the ratio says what the estate itself costs. Prints a Markdown table row.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time

RUNS = 5

FLOOR = """
from aws_cdk import App, Stack
app = App(outdir={outdir!r})
Stack(app, "Empty")
app.synth()
"""

ESTATE = """
from infra.synth import synth_estate
synth_estate(outdir={outdir!r})
"""


def _median_seconds(program: str, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as outdir:
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", program.format(outdir=outdir)],
                check=True,
                capture_output=True,
            )
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    floor = _median_seconds(FLOOR)
    estate = _median_seconds(ESTATE)
    print(
        f"| whole estate | {estate:.1f} s | bare App | {floor:.1f} s | ratio {estate / floor:.1f} |"
    )


if __name__ == "__main__":
    main()
