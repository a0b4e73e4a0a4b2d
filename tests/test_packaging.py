"""The installed distribution provides our top-level packages, not same-named others."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["geo", "layers", "ingest", "scenes", "api", "webmap", "migrations"]


def test_pyproject_lists_every_top_level_package_explicitly():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = cfg["tool"]["setuptools"]["packages"]
    for name in PACKAGES:
        assert name in listed


@pytest.mark.parametrize("name", PACKAGES)
def test_top_level_package_is_ours(name):
    mod = importlib.import_module(name)
    path = Path(mod.__file__).resolve()
    assert path.parent == ROOT / name, f"{name} resolves to {path}, not this project"


def test_console_command_is_declared():
    from importlib.metadata import entry_points

    eps = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert eps.get("xiaoan") == "api.cli:main"


def _parsers(parser, path=()):
    import argparse

    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sp in action.choices.items():
                yield from _parsers(sp, (*path, name))


def test_every_verb_of_the_cli_explains_itself_and_each_option():
    import argparse

    from api.cli import build_parser

    checked = ("serve", "import", "demo", "bus", "pipes", "risk", "camera")
    missing = []
    for path, p in _parsers(build_parser()):
        if not path or path[0] not in checked:
            continue
        if not p.description:
            missing.append(f"xiaoan {' '.join(path)}: no description")
        for a in p._actions:
            if a.help is None and not isinstance(a, argparse._SubParsersAction):
                missing.append(f"xiaoan {' '.join(path)} {a.option_strings or a.dest}")
    assert missing == []
