"""The agent (`mas unlock` / `mas lock`): one passphrase, then none; only our uid is served.

Every test here starts a real agent process for its own MAS_HOME and makes sure it is
gone at the end (``mas lock``, else SIGTERM to the pid it reported).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shieldmutual.client import agent
from shieldmutual.client.config import Paths
from shieldmutual.shared import bech32, nip19, nip49
from tests.waiting import until_sync

PASSPHRASE = "test passphrase"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):  # a zombie is gone for our purposes
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    return True


@pytest.fixture
def unlocked(mas: Any, mas_home: Path) -> Iterator[Callable[..., int]]:
    """``pid = unlocked("1h")``: alice exists and an agent holds her home."""
    pids: list[int] = []

    def start(duration: str = "1h") -> int:
        if not (mas_home / "home.key").exists():
            assert mas("id", "new", "alice").code == 0
        done = mas("unlock", "--for", duration, "--json")
        assert done.code == 0, done.stderr
        pid = int(done.json_lines()[0]["pid"])
        pids.append(pid)
        return pid

    yield start
    mas("lock", passphrase=None)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def test_after_unlock_commands_need_no_passphrase(unlocked: Any, mas: Any) -> None:
    assert mas("id", "new", "alice").code == 0
    assert mas("id", "list", passphrase=None).code == 4  # locked: nothing to open it with
    pid = unlocked()
    listed = mas("id", "list", "--json", passphrase=None)
    assert listed.code == 0 and listed.json_lines()[0]["name"] == "alice"
    signed = mas("event", "-c", "from the agent", "--dry-run", passphrase=None)
    assert signed.code == 0, signed.stderr
    assert mas("relays", "add", "wss://relay.example.org", "--no-check", passphrase=None).code == 0
    assert mas("id", "new", "bob").code == 0  # sealing a new key needs the passphrase...
    as_bob = mas("--as", "bob", "event", "-c", "hi", "--dry-run", passphrase=None)
    assert as_bob.code == 0, as_bob.stderr  # ...and then it is unlocked like the others
    assert unlocked() == pid  # a second unlock reuses the running agent


def test_lock_wipes_and_exits(unlocked: Any, mas: Any, mas_home: Path) -> None:
    pid = unlocked()
    sock = agent.socket_path(Paths.resolve({"MAS_HOME": str(mas_home)}))
    assert sock.exists()
    done = mas("lock", passphrase=None)
    assert done.code == 0 and "forgot" in done.stderr
    until_sync(lambda: not _alive(pid) and not sock.exists(), timeout=15)
    assert mas("id", "list", passphrase=None).code == 4
    assert "no agent" in mas("lock", passphrase=None).stderr


def test_the_lifetime_ends_by_itself(unlocked: Any, mas: Any) -> None:
    pid = unlocked("2s")
    until_sync(lambda: not _alive(pid), timeout=15)
    assert mas("id", "list", passphrase=None).code == 4


def test_socket_and_folder_are_private(unlocked: Any, mas_home: Path) -> None:
    unlocked()
    sock = agent.socket_path(Paths.resolve({"MAS_HOME": str(mas_home)}))
    assert stat.S_ISSOCK(sock.lstat().st_mode)
    assert stat.S_IMODE(sock.lstat().st_mode) == 0o600
    assert stat.S_IMODE(sock.parent.lstat().st_mode) == 0o700
    assert sock.parent.lstat().st_uid == os.getuid()


def test_a_wrong_passphrase_starts_no_agent(mas: Any, mas_home: Path) -> None:
    assert mas("id", "new", "alice").code == 0
    wrong = mas("unlock", passphrase="not it")
    assert wrong.code == 4 and wrong.stderr.strip() == "error: wrong passphrase"
    assert not agent.socket_path(Paths.resolve({"MAS_HOME": str(mas_home)})).exists()


def test_the_agent_keeps_no_secret_in_its_environment_or_command_line(unlocked: Any) -> None:
    pid = unlocked()
    for name in ("environ", "cmdline"):
        raw = Path(f"/proc/{pid}/{name}").read_bytes()
        assert PASSPHRASE.encode() not in raw
        assert b"MAS_PASSPHRASE" not in raw
    limits = Path(f"/proc/{pid}/limits").read_text()
    assert any(
        line.startswith("Max core file size") and " 0 " in line for line in limits.splitlines()
    )


@pytest.mark.skipif(os.getuid() != 0, reason="acting as another user needs root")
def test_another_user_gets_nothing(unlocked: Any, mas_home: Path) -> None:
    """Even with the folder and socket opened up, SO_PEERCRED turns another uid away."""
    unlocked()
    sock = agent.socket_path(Paths.resolve({"MAS_HOME": str(mas_home)}))

    def as_nobody() -> bytes:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child acts as user "nobody" and reports what it got
            os.close(read)
            try:
                os.setgid(65534)
                os.setuid(65534)
                with socket.socket(socket.AF_UNIX) as client:
                    client.settimeout(5)
                    client.connect(str(sock))
                    client.sendall(b'{"op": "get"}\n')
                    os.write(write, b"answer:" + client.recv(65536))
            except OSError as exc:
                os.write(write, f"refused:{type(exc).__name__}".encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as got:
            answer = got.read()
        os.waitpid(pid, 0)
        return answer

    assert as_nobody().startswith(b"refused:PermissionError")  # the 0700 folder
    os.chmod(sock.parent, 0o711)
    os.chmod(sock, 0o666)
    try:  # connected, then closed without a word (however the close shows)
        closed = (b"answer:", b"refused:ConnectionResetError", b"refused:BrokenPipeError")
        assert as_nobody() in closed
        assert agent.fetch(Paths.resolve({"MAS_HOME": str(mas_home)})) is not None
    finally:
        os.chmod(sock.parent, 0o700)
        os.chmod(sock, 0o600)


def test_passphrase_in_the_environment_is_refused(mas: Any) -> None:
    done = mas("id", "list", env={"MAS_PASSPHRASE": "s3cret"}, passphrase=None)
    assert done.code == 4 and done.stderr.count("\n") == 1
    for alternative in ("mas unlock", "--passphrase-fd", "MAS_PASSPHRASE_FD", "prompt"):
        assert alternative in done.stderr
    assert "s3cret" not in done.stderr


def test_passphrase_fd_option(mas: Any, passphrase_fd: Callable[..., int]) -> None:
    assert mas("id", "new", "alice").code == 0
    fd = passphrase_fd(PASSPHRASE)
    done = mas("--passphrase-fd", str(fd), "id", "list", "--json", passphrase=None)
    assert done.code == 0 and done.json_lines()[0]["name"] == "alice"


def test_import_takes_no_secret_argument(mas: Any) -> None:
    nsec = nip19.nsec_encode(bytes.fromhex("11" * 32))
    done = mas("id", "import", "alice", nsec)
    assert done.code == 2 and "never taken on the command line" in done.stderr
    assert nsec not in done.stderr and nsec not in done.stdout


def test_a_costly_ncryptsec_is_refused_before_any_question(mas: Any) -> None:
    """log_n 22 took 16 s and 4 GiB before anything was asked."""
    _, data = bech32.decode(nip49.encrypt(bytes.fromhex("11" * 32), "p", log_n=4))
    heavy = bech32.encode("ncryptsec", data[:1] + bytes([22]) + data[2:])
    done = mas("id", "import", "x", input=heavy + "\n", passphrase=None)
    assert done.code == 2, done.stderr  # no passphrase was available: it was never asked
    assert "--allow-log-n 22" in done.stderr
