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
