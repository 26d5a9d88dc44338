"""End-to-end fixtures: real ``mas-relay`` processes on loopback, and the real ``mas`` CLI.

``relays(3)`` starts three relays (through the shared ``relay_process`` fixture), each
with its own SQLite file; ``relay.kill()`` and ``relay.restart()`` stop one and bring it
back on the same port and database, as a crash and a restart would. ``mas(...)`` runs
the installed console script with MAS_HOME in a temporary folder; ``mas_stream(...)``
starts one in the background (e.g. ``req --stream``). ``person("sam", url)`` is someone
at their own computer: their own MAS_HOME, a new identity, these relays.
``module_networks()`` gives the same relays and people to a module-scoped fixture, so a
long story is told once and checked by several tests (tests/e2e/test_champions.py).
"""

from __future__ import annotations

import contextlib
import os
import pty
import queue
import select
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

import nostr_sdk
import orjson
import pytest

from shieldmutual.shared.aid.markdown import render_template
from shieldmutual.shared.aid.request import AidRequest

BIN = Path(sys.executable).parent
START_TIMEOUT = 20.0


def _pump(stream: IO[str], sink: queue.Queue[str | None], keep: list[str]) -> None:
    for line in stream:
        keep.append(line)
        sink.put(line)
    sink.put(None)


class RelayNode:
    """One relay of a test network, started with the shared ``relay_process`` fixture
    (tests/conftest.py). Its URL, port and database stay the same across restarts."""

    def __init__(self, start: Callable[..., Any], db: Path, args: list[str]) -> None:
        self._start = start
        self.db = db
        self.args = args
        self.proc = start(*args, db=db)
        self.url: str = self.proc.url
        self.port: int = self.proc.port

    def kill(self) -> None:
        """SIGKILL, as a crash: no goodbye to clients."""
        self.proc.kill()

    def restart(self) -> RelayNode:
        """Start again on the same port and database (retrying while the port frees up)."""
        self.kill()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:  # a later --port wins over the fixture's --port 0
                self.proc = self._start(*self.args, "--port", str(self.port), db=self.db)
                return self
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise


def relay_nodes(folder: Path, relay_process: Callable[..., Any]) -> Callable[..., list[RelayNode]]:
    """The ``relays`` factory: databases and configs in ``folder``, processes started with
    ``relay_process`` (which kills them)."""
    count_so_far = 0

    def make(count: int, config: str | None = None) -> list[RelayNode]:
        nonlocal count_so_far
        args: list[str] = []
        if config is not None:
            config_file = folder / f"relay-config{count_so_far}.toml"
            config_file.write_text(config)
            args = ["--config", str(config_file)]
        nodes = []
        for _ in range(count):
            nodes.append(RelayNode(relay_process, folder / f"node{count_so_far}.db", args))
            count_so_far += 1
        return nodes

    return make


@pytest.fixture
def relays(tmp_path: Path, relay_process: Callable[..., Any]) -> Callable[..., list[RelayNode]]:
    """``relays(3)``: that many fresh relays (killed at the end of the test).

    ``relays(1, config="[policy]\nauth_required = true")`` passes a relay TOML config.
    """
    return relay_nodes(tmp_path, relay_process)


# A community relay that carries mutual aid traffic only (relay/policy.py's aid rule).
RELAY_CONFIGS = {"open": None, "aid-only": "[policy]\naid_only = true\n"}


@pytest.fixture(scope="module", params=list(RELAY_CONFIGS))
def relay_config(request: pytest.FixtureRequest) -> str | None:
    """The relay TOML for ``relays(n, config=relay_config)``: a test that asks for it runs
    once on open relays and once on aid-only ones, since the project's own traffic must
    pass both; ``@pytest.mark.parametrize("relay_config", ["aid-only"], indirect=True)``
    picks one. Module-scoped, so a module-scoped story can be told once per relay kind."""
    return RELAY_CONFIGS[request.param]


# ---- the CLI as a user runs it ------------------------------------------------------------


PASSPHRASE = "e2e passphrase"


def environment(folder: Path) -> dict[str, str]:
    """The ``mas_env`` of a test (or a module) whose files are in ``folder``."""
    env = dict(os.environ)
    env.pop("MAS_PASSPHRASE", None)
    env.update(
        MAS_HOME=str(folder / "mas-home"),
        MAS_SCRYPT_LOG_N="4",
        MAS_PRIVATE_DELAY="0:0.05",  # private items still go apart, just not for minutes
        COLUMNS="200",
    )
    return env


@pytest.fixture
def mas_env(tmp_path: Path) -> dict[str, str]:
    """The environment of every `mas` here; the passphrase is not in it (see ``spawn``)."""
    return environment(tmp_path)


def spawner(passphrase_fd: Callable[..., int]) -> Callable[..., dict[str, Any]]:
    """The ``spawn`` helper, its pipes made by ``passphrase_fd``."""

    def kwargs(env: dict[str, str], passphrase: str | None = PASSPHRASE) -> dict[str, Any]:
        if passphrase is None:
            return {"env": env}
        fd = passphrase_fd(passphrase)
        return {"env": {**env, "MAS_PASSPHRASE_FD": str(fd)}, "pass_fds": (fd,)}

    return kwargs


@pytest.fixture
def spawn(passphrase_fd: Callable[..., int]) -> Callable[..., dict[str, Any]]:
    """``subprocess.run([mas, ...], **spawn(env))``: ``env`` plus MAS_PASSPHRASE_FD naming
    a pipe that holds the passphrase, and ``pass_fds`` to hand that pipe to the child
    (and to every `mas` of a shell pipeline it starts). ``passphrase=None``: no pipe."""
    return spawner(passphrase_fd)


def mas_runner(mas_result: type[Any], spawn: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
    """The ``run_mas`` function over ``spawn``."""

    def run(
        env: dict[str, str],
        *args: str,
        input: str | None = None,
        timeout: float = 60,
        passphrase: str | None = PASSPHRASE,
    ) -> Any:
        result = subprocess.run(
            [str(BIN / "mas"), *args],
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            **spawn(env, passphrase),
        )
        return mas_result(result.returncode, result.stdout, result.stderr)

    return run


@pytest.fixture
def run_mas(mas_result: type[Any], spawn: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
    """``run_mas(env, *args, input=None, timeout=60, passphrase=PASSPHRASE)``: the installed
    ``mas`` script with ``env`` as its whole environment (plus the passphrase pipe), run to
    completion; a :class:`MasResult`."""
    return mas_runner(mas_result, spawn)


@pytest.fixture
def mas(mas_env: dict[str, str], run_mas: Callable[..., Any]) -> Callable[..., Any]:
    """Run the installed ``mas`` console script to completion."""

    def run(*args: str, input: str | None = None, timeout: float = 60) -> Any:
        return run_mas(mas_env, *args, input=input, timeout=timeout)

    return run


@dataclass
class Person:
    """One person at their own computer: their own MAS_HOME (in ``env``), the real `mas`.
    ``person(*args)`` runs ``mas *args *options`` and asserts its exit code."""

    name: str
    env: dict[str, str]
    run_mas: Callable[..., Any]
    npub: str = ""
    pubkey: str = ""
    options: tuple[str, ...] = ()  # after every command's own, e.g. ("-r", url)

    @property
    def home(self) -> Path:
        return Path(self.env["MAS_HOME"])

    def __call__(self, *args: str, input: str | None = None, code: int = 0) -> Any:
        done = self.run_mas(self.env, *args, *self.options, input=input)
        assert done.code == code, f"{self.name}: mas {' '.join(args)}\n{done.stderr}"
        return done


def people_at(
    folder: Path, mas_env: dict[str, str], run_mas: Callable[..., Any]
) -> Callable[..., Person]:
    """The ``person`` factory with every home in ``folder``."""

    def make(name: str, *relays: str, env: Mapping[str, str] | None = None) -> Person:
        home = str(folder / f"home-{name}")
        someone = Person(name, {**mas_env, **(env or {}), "MAS_HOME": home}, run_mas)
        made = someone("id", "new", name, "--json").json_lines()[0]
        someone.npub, someone.pubkey = made["npub"], made["pubkey"]
        if relays:
            someone("relays", "add", *relays)
        return someone

    return make


@pytest.fixture
def person(
    tmp_path: Path, mas_env: dict[str, str], run_mas: Callable[..., Any]
) -> Callable[..., Person]:
    """``person("sam", *relay_urls, env={...})``: MAS_HOME ``home-sam`` under tmp_path,
    ``mas_env`` updated with ``env``, an identity named "sam", and these relays added
    (none: no ``relays add``)."""
    return people_at(tmp_path, mas_env, run_mas)


@pytest.fixture(scope="module")
def module_networks(
    tmp_path_factory: pytest.TempPathFactory,
    module_relay_process: Callable[..., Any],
    module_passphrase_fd: Callable[..., int],
    mas_result: type[Any],
) -> Callable[[], SimpleNamespace]:
    """For a module-scoped fixture, so a long story runs once and several tests read what
    it left: each call a fresh network in a folder of its own, ``net.relays(2)``,
    ``net.person("sam", url)`` and ``net.emergency_request`` as the function-scoped
    fixtures of those names give them. Its relays live until the module's last test."""
    run = mas_runner(mas_result, spawner(module_passphrase_fd))

    def make() -> SimpleNamespace:
        folder = tmp_path_factory.mktemp("network")
        return SimpleNamespace(
            relays=relay_nodes(folder, module_relay_process),
            person=people_at(folder, environment(folder), run),
            emergency_request=write_emergency_request(folder),
        )

    return make


class Streaming:
    """A background command (``mas ...``, or a shell pipeline of them) whose stdout lines
    are collected as they arrive. It runs in its own process group, killed as a whole."""

    def __init__(self, argv: list[str], spawn: dict[str, Any]) -> None:
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True, **spawn,
        )  # fmt: skip
        self.lines: list[str] = []
        self.stderr: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._pumps = [
            threading.Thread(
                target=_pump, args=(self.proc.stdout, self._lines, self.lines), daemon=True
            ),
            threading.Thread(
                target=_pump, args=(self.proc.stderr, queue.Queue(), self.stderr), daemon=True
            ),
        ]
        for pump in self._pumps:
            pump.start()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20) -> None:
        """Wait until ``predicate()`` holds, re-checking whenever a line arrives."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met; stderr: {''.join(self.stderr)}")
            with contextlib.suppress(queue.Empty):
                self._lines.get(timeout=min(remaining, 0.2))

    def events(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in list(self.lines) if line.strip()]

    def interrupt(self) -> int:
        """SIGINT, then the exit code once the process and everything it wrote (a last
        line without a newline, such as a bell, included) have been collected."""
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=20)
        for pump in self._pumps:
            pump.join(timeout=10)
        return code

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def mas_stream(
    mas_env: dict[str, str], spawn: Callable[..., dict[str, Any]]
) -> Iterator[Callable[..., Streaming]]:
    """``mas_stream("req", "--stream", ...)`` runs ``mas`` in the background;
    ``mas_stream(["req", ...], ["event", ...])`` runs ``mas A | mas B`` through sh."""
    started: list[Streaming] = []

    def start(*args: Any) -> Streaming:
        if args and isinstance(args[0], list):
            line = " | ".join(shlex.join([str(BIN / "mas"), *stage]) for stage in args)
            argv = ["/bin/sh", "-c", line]
        else:
            argv = [str(BIN / "mas"), *args]
        streaming = Streaming(argv, spawn(mas_env))
        started.append(streaming)
        return streaming

    yield start
    for streaming in started:
        streaming.kill()


# ---- an independent implementation: rust-nostr (nostr_sdk) --------------------------------


async def _rust_fetch(url: str, flt: nostr_sdk.Filter) -> list[nostr_sdk.Event]:
    client = nostr_sdk.Client()
    await client.add_relay(nostr_sdk.RelayUrl.parse(url))
    await client.connect()
    try:
        return await client.fetch_events(nostr_sdk.ReqTarget.auto([flt]), timedelta(seconds=10))
    finally:
        await client.shutdown()


async def _rust_send(url: str, event: nostr_sdk.Event) -> Any:
    client = nostr_sdk.Client()
    await client.add_relay(nostr_sdk.RelayUrl.parse(url))
    await client.connect(timedelta(seconds=10))
    try:
        return await client.send_event(event)
    finally:
        await client.shutdown()


@pytest.fixture
def rust_nostr() -> SimpleNamespace:
    """nostr_sdk's own client, a fresh connection per call: ``await rust_nostr.fetch(url,
    filter)`` (its events) and ``await rust_nostr.send(url, event)`` (its send output)."""
    return SimpleNamespace(fetch=_rust_fetch, send=_rust_send)


class Terminal:
    """``mas`` with stdin, stdout and stderr on a pty of its own, as a person runs it:
    read what it shows (until some text appears), type answers, wait for it to end."""

    def __init__(self, args: list[str], spawn: dict[str, Any]) -> None:
        self.leader, follower = pty.openpty()
        self.proc = subprocess.Popen(
            [str(BIN / "mas"), *args], stdin=follower, stdout=follower, stderr=follower,
            start_new_session=True, **spawn,
        )  # fmt: skip
        os.close(follower)
        self.seen = bytearray()

    def read_until(self, needle: bytes, timeout: float = 60) -> bytes:
        """Everything shown so far, once ``needle`` is in it."""
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            ready, _, _ = select.select(
                [self.leader], [], [], max(0.0, deadline - time.monotonic())
            )
            if not ready:
                raise TimeoutError(f"no {needle!r} on the terminal: {bytes(self.seen)!r}")
            try:
                chunk = os.read(self.leader, 65536)
            except OSError:  # EIO: every writer of the terminal has gone
                chunk = b""
            if not chunk:
                raise AssertionError(f"the terminal closed before {needle!r}: {bytes(self.seen)!r}")
            self.seen += chunk
        return bytes(self.seen)

    def type(self, text: str) -> None:
        os.write(self.leader, text.encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self.leader)


@pytest.fixture
def terminal(spawn: Callable[..., dict[str, Any]]) -> Iterator[Callable[..., Terminal]]:
    """``terminal(env, "feed")`` runs ``mas feed`` on a pty (passphrase on a pipe, as
    ``spawn`` gives it); every one is killed and closed after the test."""
    opened: list[Terminal] = []

    def start(env: dict[str, str], *args: str) -> Terminal:
        opened.append(Terminal(list(args), spawn(env)))
        return opened[-1]

    yield start
    for each in opened:
        each.close()


def write_emergency_request(folder: Path) -> Path:
    """``emergency.md`` in ``folder``: see ``emergency_request``."""
    request = AidRequest(
        title="Sam has been detained",
        summary="Sam was detained; a lawyer is needed before the hearing.",
        story="If you read this, I could not check in. Please help with legal costs.",
        location="Leeds",
        language="en",
        societies=("leeds-care",),
    )
    path = folder / "emergency.md"
    path.write_text(render_template(request), encoding="utf-8")
    return path


@pytest.fixture
def emergency_request(tmp_path: Path) -> Path:
    """The request file a member hands a champion (``mas champion add --request``): what
    the champion publishes for them should they stop checking in."""
    return write_emergency_request(tmp_path)


@pytest.fixture
def one_relay(relays: Callable[..., list[RelayNode]]) -> RelayNode:
    (one,) = relays(1)
    return one


@pytest.fixture
def people(person: Callable[..., Any], one_relay: RelayNode) -> Callable[[str], Any]:
    """``people("name")``: someone with their own MAS_HOME, an identity, and one_relay."""
    return lambda name: person(name, one_relay.url)
