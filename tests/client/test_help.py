"""Every `--help` reads clean: roles not types, whole sentences, no test-only options, and
every environment variable the code reads is named in `mas --help` and the README."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from shieldmutual.client.cli import main as cli_main
from shieldmutual.client.cli.helpstyle import first_paragraph

ROOT = Path(__file__).resolve().parents[2]

# What typer shows when a declaration names no role: `<bool>` on flags, `<list[int]>`,
# `<float range> [x>=1]`; and `{NPUB}` / `[[SECRET]]` in usage lines.
TYPE_LABEL = re.compile(r"<(bool|str|int|float|list|path|datetime|tuple)\b|\[x[<>]=?|\[\[")


def _help(args: list[str], width: int = 100) -> str:
    runner = CliRunner()
    env = {"COLUMNS": str(width), "NO_COLOR": "1"}
    with runner.isolation(env=env) as (out, _err, _):
        code = cli_main.main([*args, "--help"])
        shown = out.getvalue().decode()
    assert code == 0, args
    return shown


def _walk(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    yield path, command
    for name in sorted(getattr(command, "commands", {})):
        yield from _walk(command.commands[name], [*path, name])


def _every_command() -> list[tuple[list[str], Any]]:
    found: list[tuple[list[str], Any]] = [([], None)]
    for name in cli_main.COMMAND_GROUPS:
        found.extend(_walk(cli_main.load(name), [name]))
    return found


COMMANDS = _every_command()


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_help_shows_roles_not_types_and_no_test_only_option(path: list[str]) -> None:
    shown = _help(path)
    usage = next(line for line in shown.splitlines() if "Usage:" in line)
    assert not TYPE_LABEL.search(shown), shown
    assert "{" not in usage, usage
    assert not re.search(r"--now\b", shown), shown


def test_summaries_are_whole_sentences_in_every_listing() -> None:
    """Each command's summary in its group's listing is its help's whole first paragraph,
    rewrapped (a docstring's line break used to cut `pledge`'s in two)."""
    for path, command in COMMANDS:
        subcommands = getattr(command, "commands", None) if command else cli_main.COMMAND_GROUPS
        if not subcommands:
            continue
        shown = " ".join(_help(path).split())
        for name in subcommands:
            sub = subcommands[name]
            summary = sub.help if command is None else first_paragraph(sub.help)
            assert f"{name} {summary}" in shown, (path, name, summary)


def test_help_fits_the_terminal_without_breaking_words() -> None:
    """At 80 and 100 columns no line is wider than the terminal, so none wraps mid-word."""
    for width in (80, 100):
        for path, _ in COMMANDS:
            widest = max(map(len, _help(path, width).splitlines()))
            assert widest <= width, (path, width)


def test_the_static_table_matches_the_real_commands() -> None:
    """`mas --help` lists commands from COMMAND_GROUPS without importing them, so its help
    lines and names must be the real ones, and every command of a registered app listed."""
    apps: dict[tuple[str, str], set[str]] = {}
    for name, entry in cli_main.COMMAND_GROUPS.items():
        real = cli_main.load(name)
        assert entry.help == first_paragraph(real.help), name
        if not entry.group:
            apps.setdefault((entry.module, entry.attr), set()).add(name)
    for (module, attr), listed in apps.items():
        app = getattr(__import__(f"shieldmutual.client.cli.{module}", fromlist=[attr]), attr)
        assert set(typer.main.get_group(app).commands) == listed, (module, attr)


def _env_vars_read_by_the_code() -> set[str]:
    """Names in os.environ/getenv reads, typer envvar= and *_ENV constants, in client/ and
    shared/ (PATH is only passed on to a hook)."""
    patterns = [
        r"environ(?:\.get)?\(\s*\"([A-Z_][A-Z0-9_]*)\"",
        r"environ\[\"([A-Z_][A-Z0-9_]*)\"\]",
        r"getenv\(\s*\"([A-Z_][A-Z0-9_]*)\"",
        r"envvar=\"([A-Z_][A-Z0-9_]*)\"",
        r"^[A-Z_]+_ENV\s*=\s*\"([A-Z_][A-Z0-9_]*)\"",
    ]
    found: set[str] = set()
    for folder in ("client", "shared"):
        for source in (ROOT / folder).rglob("*.py"):
            text = source.read_text(encoding="utf-8")
            for pattern in patterns:
                found.update(re.findall(pattern, text, re.M))
    return found - {"PATH"}


def test_every_environment_variable_is_named_in_help_and_readme() -> None:
    read = _env_vars_read_by_the_code()
    assert {"MAS_HOME", "MAS_PROXY", "MAS_PRIVATE_DELAY", "MAS_DEBUG", "EDITOR"} <= read
    shown = " ".join(_help([], width=250).split())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in sorted(read | {"NO_COLOR"}):
        assert re.search(rf"\b{name}\b", shown), f"{name} not in `mas --help`"
        assert re.search(rf"\b{name}\b", readme), f"{name} not in README"


@pytest.mark.parametrize(
    "hidden", [["champion", "watch"], ["champion", "activate"], ["bridge", "email"]]
)
def test_test_only_now_is_hidden(hidden: list[str]) -> None:
    command = cli_main.load(hidden[0])
    for name in hidden[1:]:
        command = command.commands[name]
    (now,) = [p for p in command.params if "--now" in p.opts]
    assert now.hidden
