"""The error tree tells the truth (issue 16 point 7): every exception class the code
defines is in the documented tree (shared/errors.py's and client/errors.py's docstrings),
every class in it is raised somewhere or is the base of one that is, there is one
ConfigError for relay and client, and the relay's refusals are built by
shared/nip01prefix.py's builders rather than spelt by hand."""

from __future__ import annotations

import ast
import re
import tokenize
from pathlib import Path

from shieldmutual.client import errors as client_errors
from shieldmutual.relay import config as relay_config
from shieldmutual.shared import errors as shared_errors
from shieldmutual.shared.nip01prefix import STANDARD

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(
    p
    for package in ("shared", "relay", "client")
    for p in (ROOT / package).rglob("*.py")
    if "__pycache__" not in p.parts
)
TREES = "\n".join(str(module.__doc__) for module in (shared_errors, client_errors))


def _exception_classes() -> dict[str, list[str]]:
    """Every class defined in the source whose bases lead to Exception: name -> bases."""
    bases: dict[str, list[str]] = {}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = [b.id for b in node.bases if isinstance(b, ast.Name)]

    def is_exception(name: str, seen: frozenset[str] = frozenset()) -> bool:
        if name == "Exception":
            return True
        parents = bases.get(name, [])
        return name not in seen and any(is_exception(p, seen | {name}) for p in parents)

    return {name: parents for name, parents in bases.items() if is_exception(name)}


CLASSES = _exception_classes()


def test_every_exception_class_is_in_the_documented_tree() -> None:
    missing = [name for name in CLASSES if not re.search(rf"\b{name}\b", TREES)]
    assert not missing, f"add these to the tree in shared/errors.py or client/errors.py: {missing}"


def test_every_class_in_the_tree_is_raised_or_is_a_base_of_one_that_is() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in SOURCES)
    built = {name for name in CLASSES if re.search(rf"(?<!class ){name}\(", text)}
    bases = {parent for name in built for parent in CLASSES[name]}
    while True:
        more = {parent for name in bases for parent in CLASSES.get(name, [])} - bases
        if not more:
            break
        bases |= more
    unused = sorted(set(CLASSES) - built - bases)
    assert not unused, f"never raised, delete or raise: {unused}"


def test_the_relay_and_the_client_share_one_config_error() -> None:
    assert relay_config.ConfigError is client_errors.ConfigError is shared_errors.ConfigError
    assert issubclass(shared_errors.ConfigError, shared_errors.InvalidError)
    assert shared_errors.ConfigError("x").wire() == "invalid: x"


def _prefixed_literals(path: Path) -> list[str]:
    """String literals (not docstrings) that start with a NIP-01 prefix, as written."""
    found = []
    with path.open(encoding="utf-8") as source:
        for token in tokenize.generate_tokens(source.readline):
            if token.type == tokenize.STRING and not token.string.lstrip("fFbBrR").startswith(
                ('"""', "'''")
            ):
                body = token.string.lstrip("fFbBrR")[1:]
                if re.match(rf"({'|'.join(map(re.escape, STANDARD))}): ", body):
                    found.append(f"{path.relative_to(ROOT)}:{token.start[0]}: {token.string}")
    return found


def test_refusals_are_built_by_the_prefix_builders_not_written_by_hand() -> None:
    """Point 7's choice: the relay's refusals are strings from shared/nip01prefix.py's
    builders (invalid(), blocked(), ...), so no prefix is spelt by hand. (The CLI's own
    ``error: <message>`` line on stderr is not a NIP-01 message.)"""
    wire = [p for p in SOURCES if not p.is_relative_to(ROOT / "client")]
    by_hand = [line for path in wire for line in _prefixed_literals(path)]
    assert not by_hand, "use shared/nip01prefix's builders:\n" + "\n".join(by_hand)
