"""``mas-relay --workers N``: N relay processes on one port over one PostgreSQL database.

One event loop uses one core; N processes use N. Each worker is a whole relay (its own
connections, live index, store pool) listening on the same address with
``SO_REUSEPORT``, so the kernel spreads new connections over the workers; live events
cross between them through PostgreSQL (relay/fanout_pg.py). The same works across
hosts: every ``mas-relay`` on the same database hears the others.

The parent only supervises:

* It reserves the port first (probing that nobody else holds it, then holding a
  ``SO_REUSEPORT`` socket that never listens), so ``--port 0`` gives every worker the
  same free port and a port already taken fails at once (exit 1).
* It starts the workers (``multiprocessing`` spawn: fresh interpreters, no forked
  event loop or database connection) and prints the one ready block once all are
  ready. A worker that fails before that stops everything (exit 1).
* A worker that dies later is logged with its exit status and restarted after a
  backoff (1 s, doubling to 30 s; back to 1 s once a worker has served a minute): the
  other workers keep serving meanwhile, and the dead worker's clients reconnect, as
  they would after any relay restart. A crash loop shows as one log line per attempt,
  never silently.
* SIGTERM/SIGINT go to every worker, which each stop gracefully (every acknowledged
  event committed); the parent exits 0 when they all did, 1 otherwise. A parent killed
  outright (SIGKILL, the OOM killer) takes its workers with it: each watches a pipe
  only the parent holds open, and stops gracefully when it closes.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from shieldmutual.relay.config import Config

log = logging.getLogger("shieldmutual.relay.workers")

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
HEALTHY_AFTER = 60.0  # seconds up after which a worker's next crash starts the backoff over
START_TIMEOUT = 60.0  # seconds for every worker to say it is ready

# What a worker runs: (config, worker number, pipe to the parent, lifeline); see
# main.run_worker. The lifeline is the read end of a pipe only the parent writes to: it
# reads as closed once the parent is gone, even after a SIGKILL, and the worker stops
# instead of holding the port with nobody to restart or stop it.
WorkerMain = Callable[[Config, int, Connection, Connection], None]


def reserve_port(host: str, port: int) -> socket.socket:
    """A bound, never listening ``SO_REUSEPORT`` socket on ``host:port`` (port 0: a free
    one): it keeps the port for the workers. ``OSError`` when another program has it."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    # Without SO_REUSEPORT the probe fails on any socket bound there, including another
    # relay's workers, which SO_REUSEPORT alone would silently share the port with.
    # SO_REUSEADDR as asyncio's servers set it, so a recent stop's TIME_WAIT connections
    # do not count as the port being taken.
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)
        address = (address[0], probe.getsockname()[1], *address[2:])
    # SO_REUSEPORT alone (no SO_REUSEADDR), so the workers may join it but another
    # supervisor's probe above still fails on it.
    held = socket.socket(family, kind, proto)
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    held.bind(address)
    return held


def _status(exitcode: int | None) -> str:
    code = exitcode or 0
    return f"signal {-code}" if code < 0 else f"exit status {code}"


@dataclass
class _Worker:
    number: int
    process: BaseProcess
    pipe: Connection
    lifeline: Connection  # the parent's end; closing it (or dying) stops the worker
    started: float
    backoff: float = BACKOFF_FIRST
    restart_at: float | None = None  # set while dead and waiting to be restarted


class Supervisor:
    """Starts, watches and stops the worker processes."""

    def __init__(self, config: Config, count: int, target: WorkerMain) -> None:
        self.config = config
        self.count = count
        self.target = target
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[_Worker] = []
        self.stopping = False
        self._wake_read, self._wake_write = os.pipe()

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; the exit status."""
        os.set_blocking(self._wake_write, False)
        previous = signal.set_wakeup_fd(self._wake_write)
        handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.workers = [self._spawn(n) for n in range(1, self.count + 1)]
            lines = self._await_ready()
            if lines is None:
                return self._stop(startup_failed=True)
            *info, last = lines
            pids = ", ".join(str(w.process.pid) for w in self.workers)
            print(
                "\n".join([*info, f"  workers {self.count} (pids {pids}), SO_REUSEPORT", last]),
                file=sys.stderr,
                flush=True,
            )
            self._watch()
            return self._stop()
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            signal.set_wakeup_fd(previous)
            os.close(self._wake_read)
            os.close(self._wake_write)

    def _on_signal(self, _signum: int, _frame: object) -> None:
        self.stopping = True

    def _spawn(self, number: int) -> _Worker:
        parent_end, child_end = self.context.Pipe(duplex=False)
        lifeline, held = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=self.target,
            args=(self.config, number, child_end, lifeline),
            name=f"mas-relay worker {number}",
        )
        process.start()
        child_end.close()
        lifeline.close()
        return _Worker(number, process, parent_end, held, time.monotonic())

    def _await_ready(self) -> list[str] | None:
        """Every worker's ready message; None when one exits first or time runs out."""
        waiting = {w.pipe: w for w in self.workers}
        lines: list[str] = []
        deadline = time.monotonic() + START_TIMEOUT
        while waiting and not self.stopping:
            left = deadline - time.monotonic()
            if left <= 0:
                log.error("workers not ready after %gs", START_TIMEOUT)
                return None
            sentinels = {w.process.sentinel: w for w in waiting.values()}
            for ready in wait([*waiting, *sentinels, self._wake_read], left):
                if ready in waiting:
                    worker = waiting.pop(ready)
                    try:
                        lines = worker.pipe.recv()
                    except EOFError:  # it exited before saying it was ready
                        self._failed(worker)
                        return None
                elif ready in sentinels:
                    self._failed(sentinels[ready])
                    return None
                else:
                    self._drain_wake()
        return None if self.stopping else lines

    def _failed(self, worker: _Worker) -> None:
        """A worker exited before it was ready (it printed why, unless it was killed)."""
        worker.process.join()
        log.error(
            "worker %d exited (%s) before it was ready; stopping the others",
            worker.number,
            _status(worker.process.exitcode),
        )

    def _watch(self) -> None:
        """Restart dead workers (logged, with backoff) until asked to stop."""
        while not self.stopping:
            now = time.monotonic()
            objects: list[Any] = [self._wake_read]
            timeout: float | None = None
            for worker in self.workers:
                if worker.restart_at is None:
                    objects.append(worker.process.sentinel)
                    objects.append(worker.pipe)
                elif worker.restart_at <= now:
                    self._restart(worker)
                    objects.append(worker.process.sentinel)
                    objects.append(worker.pipe)
                else:
                    left = worker.restart_at - now
                    timeout = left if timeout is None else min(timeout, left)
            for ready in wait(objects, timeout):
                if ready == self._wake_read:
                    self._drain_wake()
                else:
                    self._poll(ready)

    def _poll(self, ready: object) -> None:
        for worker in self.workers:
            if worker.restart_at is not None:
                continue
            if ready is worker.pipe:
                with contextlib.suppress(EOFError):
                    worker.pipe.recv()
                    log.info("worker %d is ready again", worker.number)
                if not worker.process.is_alive():
                    self._died(worker)
            elif ready == worker.process.sentinel:
                self._died(worker)

    def _died(self, worker: _Worker) -> None:
        if self.stopping or worker.restart_at is not None:
            return
        worker.process.join()
        status = _status(worker.process.exitcode)
        now = time.monotonic()
        if now - worker.started >= HEALTHY_AFTER:
            worker.backoff = BACKOFF_FIRST
        log.error(
            "worker %d (pid %s) died (%s); restarting it in %gs",
            worker.number,
            worker.process.pid,
            status,
            worker.backoff,
        )
        worker.restart_at = now + worker.backoff
        worker.backoff = min(BACKOFF_MAX, worker.backoff * 2)

    def _restart(self, worker: _Worker) -> None:
        worker.pipe.close()
        worker.lifeline.close()
        fresh = self._spawn(worker.number)
        worker.process, worker.pipe, worker.started = fresh.process, fresh.pipe, fresh.started
        worker.lifeline = fresh.lifeline
        worker.restart_at = None
        log.info("worker %d restarted (pid %s)", worker.number, worker.process.pid)

    def _drain_wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(self._wake_read, 512)

    def _stop(self, *, startup_failed: bool = False) -> int:
        """SIGTERM every live worker and wait for their graceful stops."""
        alive = [w for w in self.workers if w.restart_at is None and w.process.is_alive()]
        for worker in alive:
            worker.process.terminate()  # SIGTERM: the worker's own graceful stop
        grace = self.config.server.shutdown_timeout + self.config.server.close_timeout + 5
        deadline = time.monotonic() + grace
        clean = True
        for worker in alive:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                log.error("worker %d did not stop in %gs; killing it", worker.number, grace)
                worker.process.kill()
                worker.process.join()
            clean = clean and worker.process.exitcode == 0
        return 1 if startup_failed or not clean else 0
