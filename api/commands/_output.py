"""What each verb's ``--json`` prints, said once: in the verb's ``--help`` epilog and in
:data:`JSON_OUTPUT`, which tests/test_cli_errors.py checks against the real output so that the
two cannot drift apart. Not a verb (``api.cli`` does not register it).

Conventions every verb keeps: the campus id is ``campus``; lengths, areas and durations carry
their unit in the key (``_m``, ``_m2``, ``_s``); a file the verb wrote is named by the key of
its option (``png``, ``geojson``, ``out``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

__all__ = ["JsonShape", "JSON_OUTPUT", "document_json"]


@dataclass(frozen=True)
class JsonShape:
    """Top-level keys of one verb's ``--json`` output."""

    keys: tuple[str, ...]
    optional: tuple[str, ...] = ()
    rows: bool = False  # a list of such objects
    lines: bool = False  # one such object per line (a stream)


#: ``prog`` of the verb (e.g. ``"xiaoan risk map"``) → the shape of its ``--json`` output
JSON_OUTPUT: dict[str, JsonShape] = {}


def document_json(p: argparse.ArgumentParser, keys: str, *, optional: str = "",
                  when: str = "", rows: bool = False, lines: bool = False,
                  always: bool = False, note: str = "") -> None:
    """Record the verb's JSON keys (space-separated) and say them in its ``--help``.

    ``optional`` keys appear only ``when`` (a phrase, e.g. "with --campus"; with no ``keys``
    the ``note`` says which appear when); ``rows``: the
    output is a list of such objects; ``lines``: one object per line; ``always``: the verb
    prints JSON with or without ``--json``.
    """
    shape = JsonShape(tuple(keys.split()), tuple(optional.split()), rows, lines)
    JSON_OUTPUT[p.prog] = shape
    if lines:
        what = "one JSON object per line"
    elif rows:
        what = "a JSON list of objects"
    else:
        what = "a JSON object"
    text = f"Output{' (with or without --json)' if always else ' with --json'}: {what}"
    if shape.keys:  # else the keys depend on the arguments: the note says how
        text += f" with the keys {', '.join(shape.keys)}"
        if shape.optional:
            text += f"; {when or 'sometimes'} also {', '.join(shape.optional)}"
    text += "."
    if note:
        text += f" {note}"
    p.epilog = f"{p.epilog}\n\n{text}" if p.epilog else text
