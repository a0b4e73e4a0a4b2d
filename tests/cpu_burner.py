"""A test helper that keeps one CPU core busy, so tests meant for a loaded machine run on
one: a child Python process spinning in a loop, stopped (by its pid) when the test ends.

Use the ``cpu_burner`` fixture (import it into a test module), or :func:`burning` directly.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator

import pytest

__all__ = ["burning", "cpu_burner"]

_SPIN = "while True:\n    pass\n"


@contextlib.contextmanager
def burning() -> Iterator[subprocess.Popen]:
    """Run a busy-looping child process for the duration of the ``with`` block."""
    proc = subprocess.Popen([sys.executable, "-c", _SPIN], stdin=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def cpu_burner() -> Iterator[subprocess.Popen]:
    """One core kept busy for the whole test module."""
    with burning() as proc:
        assert proc.poll() is None, "the CPU burner did not start"
        yield proc
