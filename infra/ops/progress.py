"""What a long command is doing, on stderr: no command stays silent for more than ~10 s.

A command runs inside `watching("<command>")` (the CLI does it for every command). Its code
names each step with `step("...")`; every AWS call made through `infra.ops.aws.Aws` names
itself (`<service> <Operation>`) through botocore's `before-call` event, so checks need no
code of their own. A background thread prints `<command>: still <step> (N s)` whenever the
command has printed nothing for `quiet_seconds`; `say()` prints a line and resets that clock.

Outside `watching()` (tests calling functions directly) `step` only records and nothing is
printed. The thread is a daemon and is stopped when the block ends.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

QUIET_SECONDS = 8.0  # the longest silence before a "still ..." line
_POLL_SECONDS = 0.5


class _Watch:
    def __init__(self, command: str, quiet_seconds: float, stream: TextIO) -> None:
        self.command = command
        self.quiet_seconds = quiet_seconds
        self.stream = stream
        self.current = "working"
        self.streams = False  # the current step prints its own output (a subprocess)
        self.since = time.monotonic()
        self.last_output = self.since
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"{command}-progress", daemon=True)

    def _run(self) -> None:
        while not self.stopped.wait(_POLL_SECONDS):
            now = time.monotonic()
            with self.lock:
                if self.streams or now - self.last_output < self.quiet_seconds:
                    continue
                line = f"{self.command}: still {self.current} ({now - self.since:.0f} s)"
                self.last_output = now
            print(line, file=self.stream, flush=True)

    def step(self, text: str, streams: bool) -> None:
        with self.lock:
            self.streams = streams
            if text != self.current:
                self.current = text
                self.since = time.monotonic()

    def said(self) -> None:
        with self.lock:
            self.last_output = time.monotonic()


_active: _Watch | None = None


@contextmanager
def watching(
    command: str, quiet_seconds: float = QUIET_SECONDS, stream: TextIO | None = None
) -> Iterator[None]:
    """Report progress of `command` while the block runs."""
    global _active
    watch = _Watch(command, quiet_seconds, stream or sys.stderr)
    previous, _active = _active, watch
    watch.thread.start()
    try:
        yield
    finally:
        watch.stopped.set()
        watch.thread.join()
        _active = previous


def step(text: str, streams: bool = False) -> None:
    """Name what the command is doing now (`waiting for sts GetCallerIdentity`); `streams`:
    the step shows its own progress (a subprocess whose output goes through, e.g. cdk deploy's
    events), so no "still ..." line is added until the next step."""
    if _active is not None:
        _active.step(text, streams)


def say(line: str, stream: TextIO | None = None) -> None:
    """Print one progress line on stderr now (and reset the silence clock)."""
    print(line, file=stream or sys.stderr, flush=True)
    if _active is not None:
        _active.said()
