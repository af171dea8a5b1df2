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


HTTP_LAYERS = {"web", "api"}  # HTML pages and the JSON API: the only folders with routes


def folder_imports(package: Path = PROJECT_ROOT / "app") -> dict[str, set[str]]:
    """For each folder of `package`, the other folders of it that its modules import."""
    folders = {path.name for path in package.iterdir() if (path / "__init__.py").exists()}
    arrows: dict[str, set[str]] = {folder: set() for folder in folders}
    for path in package.rglob("*.py"):
        source = path.relative_to(package).parts[0]
        if source not in folders:
            continue  # app/main.py and friends compose everything
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                parts = name.split(".")
                if parts[0] == package.name and len(parts) > 1 and parts[1] in folders:
                    arrows[source].add(parts[1])
        arrows[source].discard(source)
    return arrows


def cycle_through(arrows: dict[str, set[str]], start: str) -> list[str]:
    """A path of arrows from `start` back to itself, or [] when there is none."""
    stack, seen = [(start, [start])], set()
    while stack:
        folder, path = stack.pop()
        for target in arrows[folder]:
            if target == start:
                return [*path, start]
            if target not in seen:
                seen.add(target)
                stack.append((target, [*path, target]))
    return []


def test_core_is_the_ground_floor() -> None:
    assert folder_imports()["core"] == set()


@pytest.mark.parametrize("package", ["app", "edge"])
def test_no_folder_imports_itself_back_through_others(package: str) -> None:
    arrows = folder_imports(PROJECT_ROOT / package)
    cycles = [cycle for folder in sorted(arrows) if (cycle := cycle_through(arrows, folder))]
    assert cycles == []


def routers_outside_the_http_layers() -> list[str]:
    """Modules outside web/ and api/ that declare an APIRouter."""
    app = PROJECT_ROOT / "app"
    return [
        str(path.relative_to(app))
        for path in app.rglob("*.py")
        if path.relative_to(app).parts[0] not in HTTP_LAYERS
        and "APIRouter(" in path.read_text(encoding="utf-8")
    ]


def test_only_the_http_layers_hold_routes() -> None:
    """Domains hold models, repositories and services; pages and the API compose them."""
    arrows = folder_imports()
    upward = {folder: arrows[folder] & HTTP_LAYERS for folder in arrows}
    assert {folder for folder, targets in upward.items() if targets} <= HTTP_LAYERS
    assert routers_outside_the_http_layers() == []


def test_the_folder_graph_is_read_and_a_cycle_is_found() -> None:
    """Guard against a vacuous pass: known arrows are seen, and a made-up cycle is caught."""
    arrows = folder_imports()
    assert {"core", "sites"} <= arrows["fleet"]
    assert "commands" in arrows["api"]
    assert "can" in folder_imports(PROJECT_ROOT / "edge")["control"]
    assert cycle_through({"a": {"b"}, "b": {"c"}, "c": {"a"}}, "a") == ["a", "b", "c", "a"]


def hand_layout_markers() -> list[str]:
    """Tracked Python lines that take layout away from the formatter."""
    markers = ("# fmt: " + "skip", "# fmt: " + "off")  # split so this file does not match
    return [
        f"{path.relative_to(PROJECT_ROOT)}:{number}"
        for folder in ("app", "edge", "tests", "bench", "scripts", "migrations")
        for path in (PROJECT_ROOT / folder).rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if any(marker in line for marker in markers)
    ]


def test_the_formatter_owns_layout() -> None:
    assert hand_layout_markers() == []
