"""Guard the package layout: absolute ``shieldmutual.*`` imports only, and a pure core.

The folders shared/, relay/ and client/ are installed as ``shieldmutual.shared`` etc.
A bare ``import shared`` happens to work from the repository root and breaks once
installed, so it is refused here. shared/ must stay free of I/O frameworks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("shared", "relay", "client")
BARE_NAMES = frozenset(PACKAGES)
# Not allowed anywhere in the pure core, directly or as a submodule.
IMPURE = frozenset({"asyncio", "socket", "sqlite3", "aiosqlite", "websockets", "rich", "typer"})


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for every import; relative imports give '.name'."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, "." * node.level + (node.module or "")


def _top(name: str) -> str:
    return name.split(".")[0]


def _violations(package: str, forbidden: frozenset[str]) -> list[str]:
    found = []
    for path in _modules(package):
        for line, name in _imports(path):
            if _top(name) in forbidden:
                found.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    return found


def test_packages_exist_and_have_modules() -> None:
    for package in PACKAGES:
        assert (ROOT / package / "__init__.py").is_file(), package
    # The core modules this project is built on are really being scanned.
    scanned = {p.name for p in _modules("shared")}
    assert {"__init__.py", "errors.py", "keys.py", "event.py", "kinds.py"} <= scanned


@pytest.mark.parametrize("package", PACKAGES)
def test_no_bare_top_level_imports(package: str) -> None:
    bad = _violations(package, BARE_NAMES)
    assert not bad, "import through shieldmutual.<package>, not the bare folder name:\n" + (
        "\n".join(bad)
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_no_relative_imports(package: str) -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in _modules(package)
        for line, name in _imports(path)
        if name.startswith(".")
    ]
    assert not bad, "always import absolutely:\n" + "\n".join(bad)


def test_shared_is_a_pure_core() -> None:
    bad = _violations("shared", IMPURE)
    # Nor through the project's own I/O layers.
    for path in _modules("shared"):
        for line, name in _imports(path):
            if name.startswith(("shieldmutual.relay", "shieldmutual.client")):
                bad.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert not bad, "shared/ must not do I/O or depend on relay/client:\n" + "\n".join(bad)


# --- the guard itself catches what it should -----------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import shared", ["shared"]),
        ("import shared.event", ["shared.event"]),
        ("from shared import keys", ["shared"]),
        ("from shared.event import Event", ["shared.event"]),
        ("import relay, client", ["relay", "client"]),
        ("from client.cli import main", ["client.cli"]),
        ("def f():\n    import relay.store\n", ["relay.store"]),
        ("try:\n    from relay import x\nexcept ImportError:\n    pass\n", ["relay"]),
        ("if TYPE_CHECKING:\n    from client import y\n", ["client"]),
        ("import shieldmutual.shared.event", []),
        ("from shieldmutual.shared import keys", []),
        ("import sharedthing\nimport relayed", []),
        ("from . import keys", []),
    ],
)
def test_guard_detects_bare_imports(tmp_path: Path, source: str, expected: list[str]) -> None:
    path = tmp_path / "mod.py"
    path.write_text(source, encoding="utf-8")
    names = [name for _, name in _imports(path) if _top(name) in BARE_NAMES]
    assert names == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import asyncio", "asyncio"),
        ("from asyncio import Queue", "asyncio"),
        ("import socket", "socket"),
        ("import sqlite3", "sqlite3"),
        ("import aiosqlite", "aiosqlite"),
        ("from websockets.asyncio.server import serve", "websockets.asyncio.server"),
        ("from rich.console import Console", "rich.console"),
        ("import typer", "typer"),
    ],
)
def test_guard_detects_impure_imports(tmp_path: Path, source: str, expected: str) -> None:
    path = tmp_path / "mod.py"
    path.write_text(source, encoding="utf-8")
    assert [name for _, name in _imports(path) if _top(name) in IMPURE] == [expected]
