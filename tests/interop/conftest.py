"""Fixtures for interop with independent implementations (nostr-tools under node).

Nothing is installed at test time: ``.ci/run`` runs ``npm ci --prefix tests/interop/js``
(package.json pins nostr-tools exactly, package-lock.json pins the rest). Without
node_modules the tests fail, saying so, rather than skip: a skipped interop test would
hide exactly the regressions it exists for.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

JS = Path(__file__).parent / "js"
INSTALL = "npm ci --prefix tests/interop/js"
# Seconds any one answer from node may take (a started node answers in milliseconds).
ANSWER = 20.0


def items_json(items: Sequence[tuple[int, bytes]]) -> str:
    return json.dumps([[created_at, id_.hex()] for created_at, id_ in items])


class Node:
    """``node nip77.mjs <args>``: one JSON line in (the items), then lines both ways."""

    def __init__(self, args: Sequence[str], items: Sequence[tuple[int, bytes]]) -> None:
        self.proc = subprocess.Popen(
            ["node", str(JS / "nip77.mjs"), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.send(items_json(items))

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    async def answer(self) -> Any:
        """The next JSON line, read on a thread so an in-process relay keeps running; a
        protocol error reported by nostr-tools fails the test."""
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), ANSWER)
        assert line, f"node exited: {self.stderr()}"
        value = json.loads(line)
        if isinstance(value, dict) and value.get("error") and set(value) == {"error"}:
            pytest.fail(f"nostr-tools: {value['error']}")
        return value

    def stderr(self) -> str:
        self.proc.kill()
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(ANSWER)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def nostr_tools() -> Iterator[type[Node]]:
    """``nostr_tools(args, items)``: nostr-tools' NIP-77 in a node process (killed at
    teardown); fails with the install command when node or node_modules is missing."""
    if shutil.which("node") is None:
        pytest.fail("node is not installed (Debian: apt-get install nodejs npm)")
    if not (JS / "node_modules" / "nostr-tools").is_dir():
        pytest.fail(f"nostr-tools is not installed: run `{INSTALL}`")
    started: list[Node] = []

    class Started(Node):
        def __init__(self, args: Sequence[str], items: Sequence[tuple[int, bytes]]) -> None:
            super().__init__(args, items)
            started.append(self)

    yield Started
    for node in started:
        node.close()
