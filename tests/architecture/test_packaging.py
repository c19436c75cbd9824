"""The image carries every package the wheel is built from (a package the Dockerfile forgets is an
image that cannot start)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.embedded


def test_the_dockerfile_copies_every_package_of_the_wheel() -> None:
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = {pattern.rstrip("*") for pattern in find["include"]}
    copied = set(re.findall(r"^COPY (\w+) \./\1$", (ROOT / "Dockerfile").read_text(), re.M))
    assert packages <= copied, f"missing from the Dockerfile: {sorted(packages - copied)}"
    assert "sandbox" not in copied  # a test and demo tool, not part of the image
