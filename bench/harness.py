"""A relay as a subprocess on 127.0.0.1, the one way the benchmarks and the tests run one.

``RelayProcess.mas_relay(db, *args)`` starts ``mas-relay --host 127.0.0.1 --port 0 --db
DB [args]`` and ``wait_ready()`` reads its URL from the ready line. Another relay
(strfry, nostr-relay) is ``RelayProcess(argv)`` on a port it was told, awaited with
``wait_listening(port)``. Either way the process's output (stdout and stderr, merged) is
kept line by line in ``log``, read as it comes so a full pipe never stalls the relay;
``terminate()`` is SIGTERM and its exit status, ``kill()`` SIGKILL (the relay alone, as a
crash), ``close()`` ends the relay and everything it started (its session).

Tests import it as ``bench.harness`` (pytest's ``pythonpath`` holds the repo root);
benchmarks run from the repo root as ``python -m bench.<name>``. Waits are conditions
with deadlines, never fixed sleeps.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

HOST = "127.0.0.1"
READY = re.compile(r"mas-relay ready on (ws://\S+)")
POLL = 0.05  # seconds between connection attempts while a relay starts


def free_port() -> int:
    """A port free on 127.0.0.1 now, for a relay that must be told its port."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def mas_relay_exe() -> Path:
    """The ``mas-relay`` console script installed beside this Python."""
    return Path(sys.executable).parent / "mas-relay"


class RelayProcess:
    """A running relay subprocess; ``log`` holds its output lines as they arrive."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        db: Path | None = None,
    ) -> None:
        self.db = db
        self.url = ""
        self.port = 0
        self.log: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        # A session of its own: close() reaches the workers a relay starts, too.
        self.proc = subprocess.Popen(
            list(argv), cwd=cwd, env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, errors="replace", start_new_session=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self._pump_thread = threading.Thread(target=self._pump, args=(self.proc.stdout,))
        self._pump_thread.daemon = True
        self._pump_thread.start()

    @classmethod
    def mas_relay(
        cls,
        db: Path,
        *args: str,
        exe: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> RelayProcess:
        """``mas-relay`` on a port of its choosing (a later ``--port`` in ``args`` wins)."""
        argv = [str(exe or mas_relay_exe()), "--host", HOST, "--port", "0", "--db", str(db)]
        return cls([*argv, *args], cwd=cwd, env=env, db=db)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.log.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def wait_ready(self, timeout: float = 20.0) -> str:
        """The URL of mas-relay's ready line, once printed (``url`` and ``port`` set)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"mas-relay not ready in {timeout}s: {self.log}") from None
            if line is None:
                raise RuntimeError(f"mas-relay exited: {''.join(self.log)}")
            match = READY.search(line)
            if match:
                self.url = match.group(1)
                self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])
                return self.url

    def wait_listening(self, port: int, timeout: float = 30.0) -> str:
        """Wait until ``port`` accepts connections (for a relay without a ready line)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection((HOST, port), timeout=1.0).close()
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"relay not listening on {port} in {timeout}s:\n{self.log_tail()}"
                    ) from None
                # The pause between attempts is a wait for the process to die.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(POLL)
                if self.proc.returncode is not None:
                    raise RuntimeError(
                        f"relay exited {self.proc.returncode}:\n{self.log_tail()}"
                    ) from None
                continue
            self.port = port
            self.url = f"ws://{HOST}:{port}"
            return self.url

    def log_tail(self, lines: int = 30) -> str:
        return "".join(self.log[-lines:]) or "(no output)"

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM, then the exit status once its output is all in ``log`` (waits at most
        ``timeout``)."""
        deadline = time.monotonic() + timeout
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        # Its last lines too: the pipe closes once the relay and its workers have gone.
        self._pump_thread.join(max(0.0, deadline - time.monotonic()))
        return code

    def kill(self) -> None:
        """SIGKILL to the relay alone, as a crash (its workers must notice by themselves)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def close(self, grace: float = 0.0) -> None:
        """End the relay and everything it started: SIGTERM to its session and ``grace``
        seconds to finish, then SIGKILL."""
        if grace and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
