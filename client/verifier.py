"""Signature checks in a worker process, in batches (issue 15: ``mas feed`` at 10k events/s).

A BIP-340 check costs ~39 us in libsecp256k1, a third of what the pool's event loop spends
on an event. A thread cannot take it off the loop (it must win the GIL back after every
call: tried and reverted, docs/PERFORMANCE.md), a process can: the loop sends batches of
(pubkey, id, sig) down a pipe and gets one verdict byte per event back, in order, while it
parses the next frames. The id check (sha256 of the serialization) stays on the loop: it
is cheap and needs the whole event.

Starting a process costs tens of milliseconds, so the pool starts one only for a
subscription that has already checked ``offload_after`` events itself (a feed, a sync),
never for a short command; until the worker says it is up, events are checked inline.
A worker that dies or fails to start is never trusted for anything: every event it owed
a verdict for is checked inline, and the pool goes on without it. It reads its batches
from a pipe, so it ends when the pool closes that pipe, or when the client dies.

Wire format (both ends are this module): a batch is a 4-byte big-endian count ``n`` and
``n`` records of pubkey (32 bytes), id (32) and sig (64); the answer is ``n`` bytes, 1 for
a valid signature. The worker first writes one byte to say it is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections import deque
from typing import BinaryIO, Protocol

from shieldmutual.shared import keys

log = logging.getLogger("shieldmutual.client.pool")

RECORD = 128  # pubkey, id, sig
READY = b"R"


class Waiter(Protocol):
    """Who submitted checks: told once a batch holding some of them is answered."""

    def checked(self) -> None: ...


class Batch:
    """Events sent together; ``verdicts`` once answered (None: the worker gave none, so
    they are checked inline). ``waiters`` are told when the answer is in."""

    __slots__ = ("done", "records", "size", "verdicts", "waiters")

    def __init__(self) -> None:
        self.records: list[bytes] = []
        self.size = 0
        self.verdicts: bytes | None = None
        self.done = False
        self.waiters: set[Waiter] = set()

    def valid(self, index: int) -> bool | None:
        """The verdict of the ``index``-th event; None when the worker gave none."""
        return None if self.verdicts is None else self.verdicts[index] == 1


class Verifier:
    """One worker process shared by a pool's subscriptions; see the module docstring."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.ready = False  # the worker is up: checks may go to it
        self.answered = 0  # signatures the worker has checked
        self._proc: asyncio.subprocess.Process | None = None
        self._batch: Batch | None = None  # being filled in this loop iteration
        self._sent: deque[Batch] = deque()  # sent, answers awaited in order
        self._wake = asyncio.Event()
        self._closed = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def running(self) -> bool:
        """The worker process exists and has not exited."""
        return self._proc is not None and self._proc.returncode is None

    def submit(self, pubkey: str, event_id: str, sig: str, waiter: Waiter) -> tuple[Batch, int]:
        """Queue one check (only while :attr:`ready`); ``waiter.checked()`` is called
        once its batch is answered. The batch goes out at the next loop iteration."""
        batch = self._batch
        if batch is None:
            batch = self._batch = Batch()
            asyncio.get_running_loop().call_soon(self._flush)
        batch.records.append(bytes.fromhex(pubkey) + bytes.fromhex(event_id) + bytes.fromhex(sig))
        batch.waiters.add(waiter)
        return batch, len(batch.records) - 1

    def _flush(self) -> None:
        batch, self._batch = self._batch, None
        if batch is None:
            return
        proc = self._proc
        if not self.ready or proc is None or proc.stdin is None or proc.stdin.is_closing():
            self.ready = False  # the worker's end of the pipe closed: it is gone
            _answer(batch, None)
            return
        batch.size = len(batch.records)
        proc.stdin.write(batch.size.to_bytes(4, "big") + b"".join(batch.records))
        batch.records.clear()
        self._sent.append(batch)
        self._wake.set()

    async def _run(self) -> None:
        try:
            # -P: never import from the working directory (the user's, not ours).
            proc = self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-P",
                "-m",
                __name__,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            self.pid = proc.pid
            if proc.stdout is None or await proc.stdout.readexactly(1) != READY:
                raise ValueError("it did not start")
            self.ready = not self._closed
            log.info("checking signatures in a worker process (pid %d)", proc.pid)
            while self.ready:
                while not self._sent:
                    self._wake.clear()
                    await self._wake.wait()
                verdicts = await proc.stdout.readexactly(self._sent[0].size)
                self.answered += len(verdicts)
                _answer(self._sent.popleft(), verdicts)
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            if not self._closed:
                log.info("signature worker unavailable (%s): checking inline", exc)
        finally:
            self.ready = False
            while self._sent:
                _answer(self._sent.popleft(), None)

    async def close(self) -> None:
        """End the worker (it reads end-of-file) and wait for it; kill it if it lingers."""
        self._closed = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 2)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def _answer(batch: Batch, verdicts: bytes | None) -> None:
    batch.verdicts = verdicts
    batch.done = True
    for waiter in batch.waiters:
        waiter.checked()


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    """The worker: answer batches until end of input."""
    out.write(READY)
    out.flush()
    verify = keys.verify
    while len(header := inp.read(4)) == 4:
        data = inp.read(int.from_bytes(header, "big") * RECORD)
        out.write(
            bytes(
                verify(data[i : i + 32], data[i + 32 : i + 64], data[i + 64 : i + RECORD])
                for i in range(0, len(data) - RECORD + 1, RECORD)
            )
        )
        out.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
