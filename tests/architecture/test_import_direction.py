"""The apps import downwards only: dashboard → etl → connectors, and none of them reaches up into
the project package (``sales_dashboard``) except for its settings and its Celery app.

Read from the source with ``ast``, so an import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# app → the apps (and project modules) it must never import
FORBIDDEN = {
    "connectors": ("etl", "dashboard", "sales_dashboard"),
    "etl": ("dashboard", "sales_dashboard"),
    "dashboard": ("sales_dashboard",),
}
# The project package's parts an app may use: Django settings and the Celery app.
ALLOWED = ("sales_dashboard.settings", "sales_dashboard.celery")

pytestmark = pytest.mark.embedded


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def violations(app: str) -> list[str]:
    wrong = []
    for path in sorted((ROOT / app).rglob("*.py")):
        for line, module in imported_modules(path):
            top = module.split(".")[0]
            if top in FORBIDDEN[app] and not module.startswith(ALLOWED):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return wrong


@pytest.mark.parametrize("app", sorted(FORBIDDEN))
def test_an_app_imports_only_the_apps_below_it(app: str) -> None:
    assert violations(app) == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "example.py"
    module.write_text("def f():\n    from dashboard.cache import cache\n")
    assert imported_modules(module) == [(2, "dashboard.cache")]
