"""The sandbox (the fakes of the platform APIs) is a test and demo tool, outside the product: no
production package imports it, except the command that serves it, and the wheel does not ship it.

Imports are read from the source with ``ast`` (inside functions too, and ``import_module("sandbox...")``).
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from tests.architecture.test_import_direction import ROOT, imported_modules

PRODUCTION = ("connectors", "dashboard", "etl", "sales_dashboard", "tenancy")
# ``run_sandbox`` serves the sandbox (and says so plainly where it is not installed); ``demo_setup``
# reads the demo's accounts through it.
MAY_IMPORT_THE_SANDBOX = frozenset({"dashboard/management/commands/run_sandbox.py"})

pytestmark = pytest.mark.embedded


def _is_sandbox(module: str) -> bool:
    return module == "sandbox" or module.startswith("sandbox.")


def dynamic_imports(path: Path) -> list[tuple[int, str]]:
    """Modules named by ``import_module("...")`` or ``__import__("...")`` (the literal start of an
    f-string counts)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in ("import_module", "__import__"):
            continue
        first = node.args[0]
        if isinstance(first, ast.JoinedStr) and first.values:
            first = first.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.append((node.lineno, first.value))
    return found


def sandbox_imports(path: Path) -> list[tuple[int, str]]:
    return [
        (line, module)
        for line, module in imported_modules(path) + dynamic_imports(path)
        if _is_sandbox(module)
    ]


def test_production_code_never_imports_the_sandbox() -> None:
    wrong = []
    for package in PRODUCTION:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in MAY_IMPORT_THE_SANDBOX:
                continue
            wrong += [f"{relative}:{line} imports {module}" for line, module in sandbox_imports(path)]
    assert wrong == []


def test_the_command_that_serves_it_does_import_it() -> None:
    for relative in MAY_IMPORT_THE_SANDBOX:
        assert sandbox_imports(ROOT / relative), relative  # the exception is still needed


def test_the_check_sees_static_and_dynamic_imports(tmp_path: Path) -> None:
    module = tmp_path / "example.py"
    module.write_text(
        "import importlib\n"
        "def f(platform):\n"
        "    from sandbox.core import SandboxServer\n"
        "    return importlib.import_module(f'sandbox.{platform}')\n"
    )
    assert sandbox_imports(module) == [(3, "sandbox.core"), (4, "sandbox.")]


def test_the_wheel_ships_no_sandbox() -> None:
    from setuptools import find_namespace_packages

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    shipped = find_namespace_packages(
        where=str(ROOT), include=config["include"], exclude=config.get("exclude", ())
    )
    assert [name for name in shipped if _is_sandbox(name)] == []
    assert set(PRODUCTION) <= set(shipped)
