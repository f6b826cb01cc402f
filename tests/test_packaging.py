"""pyproject.toml packages only files that exist, and the `medic` command points at a real function."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_data_pattern_matches_a_file():
    for package, patterns in PYPROJECT["tool"]["setuptools"]["package-data"].items():
        base = ROOT / "src" / package.replace(".", "/")
        empty = [pattern for pattern in patterns if not any(path.is_file() for path in base.glob(pattern))]
        assert empty == [], f"{package}: nothing matches {empty}"


def test_console_scripts_resolve():
    for name, target in PYPROJECT["project"]["scripts"].items():
        module, _, attr = target.partition(":")
        assert callable(getattr(importlib.import_module(module), attr)), name
