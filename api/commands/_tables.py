"""People's output on the command line: a summary line first, then a table (rich), in the
reader's language (``--lang`` / ``XIAOAN_LANG``, :mod:`layers.i18n`) with campus-local times;
``--json`` prints the machine document instead. Progress bars for long steps, on stderr and
only when it is a terminal (quiet in pipes, logs and tests). Not a verb.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

__all__ = ["print_table", "progress", "local_time_text"]

T = TypeVar("T")


def local_time_text(iso: str | None, zone: str) -> str:
    """``2026-01-15T10:00:00Z`` as ``2026-01-15 12:00`` on the wall clock of ``zone``."""
    if not iso:
        return ""
    from geo.timezones import local_time

    try:
        t = dt.datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return str(iso)
    if t.tzinfo is None:
        return str(iso)
    return f"{local_time(t, zone):%Y-%m-%d %H:%M}"


def print_table(
    summary: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, file: Any = None
) -> None:
    """Print ``summary`` on one line, then the rows under ``columns`` as a table."""
    from rich.console import Console
    from rich.table import Table

    out = file or sys.stdout
    console = Console(
        file=out, width=None if out.isatty() else 200, highlight=False, soft_wrap=False
    )
    console.print(summary, markup=False)
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for c in columns:
        table.add_column(c, overflow="fold")
    n = 0
    for r in rows:
        table.add_row(*("" if v is None else str(v) for v in r))
        n += 1
    if n:
        console.print(table)


def progress(
    items: Iterable[T], *, total: int | None = None, description: str = "", stream: Any = None
) -> Iterator[T]:
    """``items`` with a progress bar (rate and time left) on stderr when it is a terminal."""
    err = stream or sys.stderr
    if not getattr(err, "isatty", lambda: False)():
        yield from items
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(f"{task.speed:.1f}/s" if task.speed else "")

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(file=err),
    ) as bar:
        task = bar.add_task(description, total=total)
        for x in items:
            yield x
            bar.advance(task)
