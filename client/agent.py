"""The agent: like ssh-agent, it keeps one home unlocked in memory for a while.

`mas unlock [--for 8h]` asks the passphrase once, opens the home key and every identity,
and hands them to a background process; every later `mas` command (a cron job, a
systemd timer) asks that process over a Unix socket instead of asking for a passphrase,
so no passphrase is ever on disk, in a crontab or in an environment. `mas lock`, or the
end of the lifetime, makes it wipe what it holds and exit.

Decision: the agent *hands the keys* to a peer, it does not sign or decrypt itself.
ssh-agent can keep keys inside because SSH needs one operation (sign a challenge); a
`mas` command needs the home key to open sealed files, BIP-340 signatures, NIP-44
conversation keys for NIP-17/NIP-59 wraps and their seals, and NIP-42 AUTH, for several
identities; an agent doing all that would re-implement most of the client behind an
RPC and double the code that touches secrets. What it would buy is little: only the
same user can reach the socket, and that user can already read the agent's memory with
ptrace, replace `mas` in their PATH, or wait at the prompt. The boundary is therefore
the uid, enforced three times: the socket's folder is 0700 (checked, not assumed), the
socket is 0600, and both ends check the other's uid with ``SO_PEERCRED``.

The agent is started with an empty environment and no secret on its command line (both
are readable in /proc); the keys reach it on a pipe. It never writes them anywhere, and
core dumps are switched off. Python cannot promise that no copy of a key remains in
freed memory; the buffers it holds are overwritten before it exits.

One agent per home: the socket is ``agent-<hash of the home>.sock`` in
``/run/user/<uid>/shieldmutual`` when systemd made that folder, else in
``/tmp/shieldmutual-<uid>``; both are found without any environment variable, as cron
and ``env -i`` give none.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import stat
import struct
import sys
import time
from pathlib import Path
from typing import Any

from shieldmutual.client.config import Paths
from shieldmutual.client.errors import ClientError
from shieldmutual.client.unlock import Unlocked
from shieldmutual.shared.keys import SecretKey

TIMEOUT = 5.0
MAX_MESSAGE = 1 << 20
_CRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


# ---- where the socket is ---------------------------------------------------------


def _private_folder(path: Path) -> Path:
    """``path`` as a 0700 folder of ours; refuse one someone else made (e.g. in /tmp)."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise ClientError(f"{path} is not a folder of yours; remove it or check who made it")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


def socket_path(paths: Paths) -> Path:
    uid = os.getuid()
    run = Path(f"/run/user/{uid}")
    try:
        systemd = run.is_dir() and run.stat().st_uid == uid
    except OSError:
        systemd = False
    folder = run / "shieldmutual" if systemd else Path(f"/tmp/shieldmutual-{uid}")
    home = hashlib.sha256(str(paths.home_key_file.resolve()).encode()).hexdigest()[:20]
    return _private_folder(folder) / f"agent-{home}.sock"


def _peer_uid(sock: socket.socket) -> int:
    uid: int = _CRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size))[1]
    return uid


def _read_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_MESSAGE:
            raise ClientError("agent message too long")
    return data


# ---- the client side -------------------------------------------------------------


def ask(paths: Paths, request: dict[str, Any]) -> dict[str, Any] | None:
    """One request to this home's agent; None when no agent runs."""
    path = socket_path(paths)
    if not path.exists():
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(TIMEOUT)
        try:
            sock.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(OSError):
                path.unlink()  # a stale socket of an agent that was killed
            return None
        if _peer_uid(sock) != os.getuid():
            raise ClientError(f"{path} is served by another user; refusing it")
        sock.sendall(json.dumps(request).encode() + b"\n")
        line = _read_line(sock)
    try:
        answer = json.loads(line)
    except ValueError:
        return None  # it exited while answering (expired or locked meanwhile)
    return answer if isinstance(answer, dict) else None


def fetch(paths: Paths) -> Unlocked | None:
    """What the agent holds, or None when there is no agent (or it just expired)."""
    answer = ask(paths, {"op": "get"})
    if not answer or "home_key" not in answer:
        return None
    secrets = [SecretKey.from_hex(h) for h in answer["secrets"]]
    return Unlocked(bytes.fromhex(answer["home_key"]), {s.public_hex: s for s in secrets})


def _payload(home_key: bytes, secrets: list[SecretKey], expires_at: int) -> dict[str, Any]:
    return {
        "home_key": home_key.hex(),
        "secrets": [s.secret.hex() for s in secrets],
        "expires_at": expires_at,
    }


def start(paths: Paths, home_key: bytes, secrets: list[SecretKey], expires_at: int) -> int:
    """Give the keys to this home's agent (started if none runs); the agent's pid."""
    payload = _payload(home_key, secrets, expires_at)
    answer = ask(paths, {"op": "load", **payload})
    if answer and answer.get("ok"):
        return int(answer["pid"])
    import subprocess  # only to start an agent: every command asks the running one

    path = socket_path(paths)
    proc = subprocess.run(
        [sys.executable, "-m", "shieldmutual.client.agent", str(path)],
        input=json.dumps(payload).encode(),
        capture_output=True,
        env={"PATH": os.defpath},
        cwd="/",
        timeout=30,
        check=False,
    )
    words = proc.stdout.decode(errors="replace").split()
    if proc.returncode != 0 or len(words) != 2 or words[0] != "ready":
        why = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no answer"]
        raise ClientError(f"the agent did not start: {why[0]}")
    return int(words[1])


def add(paths: Paths, secret: SecretKey) -> bool:
    """Give a running agent one more identity (made or imported while unlocked)."""
    answer = ask(paths, {"op": "add", "secret": secret.secret.hex()})
    return bool(answer and answer.get("ok"))


def lock(paths: Paths) -> bool:
    """Make the agent wipe its keys and exit; False when none was running."""
    answer = ask(paths, {"op": "lock"})
    return bool(answer and answer.get("ok"))


# ---- the agent process -----------------------------------------------------------


class _Agent:
    def __init__(self, listener: socket.socket, payload: dict[str, Any]) -> None:
        self.listener = listener
        self.expires_at = 0
        self.answer = bytearray()
        self.load(payload)

    def load(self, payload: dict[str, Any]) -> None:
        """Hold ``payload`` (checked) as the one answer to ``get``, wiping the old one."""
        bytes.fromhex(payload["home_key"])
        for secret in payload["secrets"]:
            SecretKey.from_hex(secret)
        self.wipe()
        self.expires_at = int(payload["expires_at"])
        answer = {"home_key": payload["home_key"], "secrets": payload["secrets"]}
        self.answer = bytearray(json.dumps(answer).encode() + b"\n")

    def wipe(self) -> None:
        self.answer[:] = bytes(len(self.answer))

    def serve(self) -> None:
        while (remaining := self.expires_at - time.time()) > 0:
            self.listener.settimeout(min(remaining, 1.0))
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            with conn:
                if _peer_uid(conn) != os.getuid():
                    continue  # another user: no answer at all
                conn.settimeout(TIMEOUT)
                if not self.handle(conn):
                    return

    def handle(self, conn: socket.socket) -> bool:
        """Answer one request; False when the agent should stop."""
        try:
            request = json.loads(_read_line(conn))
            op = request.get("op")
            if time.time() >= self.expires_at:
                return False
            if op == "get":
                conn.sendall(self.answer)
            elif op == "load":
                self.load(request)
                conn.sendall(json.dumps({"ok": True, "pid": os.getpid()}).encode() + b"\n")
            elif op == "add":
                held = json.loads(self.answer)
                secrets = [*held["secrets"], request["secret"]]
                self.load({**held, "secrets": secrets, "expires_at": self.expires_at})
                conn.sendall(b'{"ok": true}\n')
            elif op == "lock":
                self.wipe()
                conn.sendall(b'{"ok": true}\n')
                return False
            else:
                conn.sendall(b'{"error": "unknown op"}\n')
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ClientError):
            pass  # a broken request must not stop the agent
        return True


def _listen(path: Path) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    listener.listen(16)
    return listener


def main(argv: list[str]) -> int:
    """``python -m shieldmutual.client.agent SOCKET``, the keys as JSON on stdin."""
    import resource
    import signal

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core dump with keys in it
    path = Path(argv[0])
    agent = _Agent(_listen(path), json.loads(sys.stdin.buffer.read()))
    if os.fork():
        os._exit(0)  # the launcher's child is gone; the agent is adopted by init
    os.setsid()
    sys.stdout.write(f"ready {os.getpid()}\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        agent.serve()
    finally:
        agent.wipe()
        with contextlib.suppress(OSError):
            path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
