"""Layout rules: app and edge never import each other."""

import ast
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT


def imported_top_level_packages(package: Path) -> dict[str, set[str]]:
    """For each module under `package`, the top-level names it imports."""
    found: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(PROJECT_ROOT))] = names
    return found


@pytest.mark.parametrize(("package", "forbidden"), [("app", "edge"), ("edge", "app")])
def test_packages_do_not_import_each_other(package: str, forbidden: str) -> None:
    offenders = [
        path
        for path, names in imported_top_level_packages(PROJECT_ROOT / package).items()
        if forbidden in names
    ]
    assert offenders == []


def test_the_check_sees_imports() -> None:
    """Guard against a vacuous pass: the walker does find app's own imports."""
    imports = imported_top_level_packages(PROJECT_ROOT / "app")
    assert "app" in imports["app/main.py"]
