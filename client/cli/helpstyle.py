"""Clean help for every command, applied once to each command tree as it is loaded.

Typer labels every option with its Python type (`<bool>` on flags, `<list[str]>`,
`<float range> [x>=1]`) and writes required arguments as `{NPUB}` in usage lines; a person
reading `--help` needs the value's role (`URL`, `N`), not its type. Fixing it here, for all
commands at once, keeps the per-option declarations short and stops a new option from
bringing the type labels back.

The same classes spare start-up time: typer converts every parameter, given or not,
through a pydantic adapter, and importing pydantic costs more than the rest of a local
command. Text needs no conversion and an absent value none at all, so pydantic is loaded
only for a number, a path or a choice actually given.
"""

from __future__ import annotations

import copy
import inspect
import re
import textwrap
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

import typer
from typer._click._textwrap import TextWrapper
from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
from typer.core import TyperArgument, TyperOption

# Help is wrapped at spaces only: click's wrapper also breaks after hyphens, cutting
# `relay-request` or `--passphrase-fd` in two, names a person will copy or type.
TextWrapper.wordsep_re = textwrap.TextWrapper.wordsep_simple_re

# Names for an option whose declaration gives no metavar, by the type it converts to.
_METAVARS = {"int": "N", "float": "N", "str": "TEXT"}
# ... or by its name, where the name says what the value is.
_BY_NAME = {
    **dict.fromkeys(("timeout", "interval", "retry_after", "refresh", "every"), "SECONDS"),
    **dict.fromkeys(("since", "until", "created_at", "deadline", "now"), "TIME"),
}


def _metavar(param: TyperOption) -> str:
    desc = param.type_descriptor
    if desc.is_choice and desc.choices:
        return "|".join(str(getattr(c, "value", c)) for c in desc.choices)
    if desc.is_path:
        return "FILE"
    if param.name in _BY_NAME:
        return _BY_NAME[param.name]
    bare = param.bare_type().removeprefix("list[").removesuffix("]")
    return _METAVARS.get(bare, (param.name or "value").upper())


@dataclass(frozen=True)
class _Deferred(RuntimeParam):
    """Typer's conversion, built only when a value needs converting."""

    descriptor: TypeDescriptor

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        if self.annotation is str and isinstance(value, str):
            return value
        if self.annotation == list[str] and all(isinstance(v, str) for v in value):
            return list(value)
        return build_runtime_param(self.descriptor).coerce(value, param, ctx)


def _deferred(param: CleanOption | CleanArgument) -> RuntimeParam:
    """The parameter's conversion, made on first use and kept. Typer caches its own in a
    private attribute; these classes keep theirs in a public one instead of reaching in."""
    if param.deferred is None:
        desc = param.type_descriptor
        if desc.file_annotation is not None or desc.parameter_info.parser is not None:
            param.deferred = build_runtime_param(desc)  # typer's own, as before
        else:
            param.deferred = _Deferred(desc.parameter_info, desc.annotation, desc)
    return param.deferred


# display_type_rich(ctx=...) is typer's hook; what is shown never depends on the context,
# so the overrides take whatever typer passes and use none of it.


class CleanOption(TyperOption):
    """A flag shows no value; a valued option shows its metavar; ranges stay unsaid."""

    deferred: RuntimeParam | None = None

    def get_runtime_param(self) -> RuntimeParam:
        return _deferred(self)

    def display_type_rich(self, *_: object, **__: object) -> str | None:
        if self.is_flag or self.count:
            return None
        return self.metavar or _metavar(self)

    def _get_number_range_help_str(self) -> str | None:
        return None


class CleanArgument(TyperArgument):
    """``NPUB`` when required and ``[NPUB]`` when not, as click and man pages write them."""

    deferred: RuntimeParam | None = None

    def get_runtime_param(self) -> RuntimeParam:
        return _deferred(self)

    def display_type_rich(self, *_: object, **__: object) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        name = self.display_name_raw.strip("[].").upper()  # some metavars say it already
        name = f"{name}..." if self.nargs != 1 else name
        return name if self.required else f"[{name}]"


def first_paragraph(text: str | None) -> str:
    """A command's one-line summary: its help's first paragraph, line breaks undone."""
    return " ".join(inspect.cleandoc(text or "").split("\n\n")[0].split())


def unwrap(text: str) -> str:
    """Docstring paragraphs as single lines, for the terminal to wrap at its own width
    (typer's rich help keeps the source's breaks and wraps again, leaving half lines).
    Indented lines, lists and ``\\b`` blocks keep their layout."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(
        p
        if p.startswith("\b") or re.search(r"^(\s|[-*] |\d+\. )", p, re.M)
        else " ".join(p.split())
        for p in paragraphs
    )


def _clean_help_option(command: Any) -> None:
    """Click makes the --help option on first use, past ``tidy``'s walk: tidy it then."""
    make = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = make(ctx)
        if type(option) is TyperOption:
            option.__class__ = CleanOption
        return option

    command.get_help_option = get_help_option


def tidy(command: Any) -> Any:
    """Give ``command`` and everything under it clean metavars and one-line summaries."""
    if command.short_help is None and command.help:
        # Typer's rich listing keeps a docstring's line breaks, cutting sentences in two.
        command.short_help = first_paragraph(command.help)
    if command.help:
        command.help = unwrap(command.help)
    command.rich_markup_mode = None  # plain help (see cli/main.py)
    _clean_help_option(command)
    for param in command.params:
        if type(param) is TyperOption:
            param.__class__ = CleanOption
        elif type(param) is TyperArgument:
            param.__class__ = CleanArgument
    commands = getattr(command, "commands", {})
    if not isinstance(commands, LazyCommands):  # those are tidied as they are built
        for sub in commands.values():
            tidy(sub)
    return command


class LazyCommands(MutableMapping[str, Any]):
    """A group's commands, each built (and tidied) from its typer declaration when first
    looked up: typer inspects and converts every parameter of every command of a group,
    and one invocation runs one command. Listing names builds nothing; help, which shows
    every command, builds them all."""

    def __init__(self, build: Callable[[Any], Any]) -> None:
        self._build = build
        self._declared: dict[str, Any] = {}  # name -> typer CommandInfo, in declared order
        self._built: dict[str, Any] = {}

    def declare(self, name: str, info: Any) -> None:
        self._declared[name] = info

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            self._built[name] = tidy(self._build(self._declared[name]))
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._declared[name] = None
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._declared[name]
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._declared)

    def __len__(self) -> int:
        return len(self._declared)


def group(app: typer.Typer) -> Any:
    """The click group of a typer app, tidied (a one-command app stays a group), whose
    commands are built as they are looked up (LazyCommands)."""
    bare = copy.copy(app)  # the group itself (callback, options, sub-groups) without commands
    bare.registered_commands = []
    built = tidy(typer.main.get_group(bare))

    def build(info: Any) -> Any:
        return typer.main.get_command_from_info(
            info,
            pretty_exceptions_short=app.pretty_exceptions_short,
            rich_markup_mode=app.rich_markup_mode,
        )

    commands = LazyCommands(build)
    for info in app.registered_commands:
        callback = getattr(info.callback, "__name__", "")  # typer types it optional
        commands.declare(info.name or typer.main.get_command_name(callback), info)
    for name, sub_group in built.commands.items():
        commands[name] = sub_group
    built.commands = commands
    return built
