"""Ingest: the stages an EVENT goes through after parsing, in strfry's order.

    id check (recomputed from the parsed values) -> policy (reject functions)
    -> signature check (batched on a worker thread) -> store (OK only after COMMIT)
    -> live fan-out

The id is checked first because it is cheap and says ``invalid:`` about the commonest
corruption; the policy runs before the signature because most of its rules cost less
than a microsecond while a BIP-340 check costs about 40. Signature checks run in
batches on one worker thread: libsecp256k1 releases the GIL, so the event loop keeps
reading sockets and encoding frames while the thread verifies (about 1.8x the accept
rate of verifying inline on two cores; ``[server] verify_threads = 0`` turns it off).

A connection's EVENTs go through :meth:`Ingest.submit` as batches, not as a task and a
future each: whatever arrived while the previous batch was being verified is verified
in one hop, then handed to the store in one call, and each event's ``done`` is called
after the commit. The loop's cost of an EVENT was mostly that bookkeeping (issue 15).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Protocol

from shieldmutual.relay import policy
from shieldmutual.relay.store.base import EventStore, SaveResult
from shieldmutual.shared.errors import StoreError
from shieldmutual.shared.event import Event
from shieldmutual.shared.nip01prefix import BAD_ID, BAD_SIGNATURE

log = logging.getLogger("shieldmutual.relay")

# What became of a submitted event: the store's answer, or why it could not be stored.
Outcome = SaveResult | Exception
Done = Callable[[Event, bytes, Outcome], None]
_BAD_SIGNATURE = SaveResult(False, BAD_SIGNATURE)


def _signatures_valid(events: list[Event]) -> list[bool]:
    return [event.signature_valid() for event in events]


class Verifier:
    """BIP-340 checks in batches on one worker thread (:meth:`Ingest.submit` forms the
    batches: every event submitted while one is being checked joins the next), so under
    load each thread hop carries hundreds of signatures and costs nothing per event."""

    def __init__(self, threads: int = 1) -> None:
        self._executor = (
            ThreadPoolExecutor(max_workers=threads, thread_name_prefix="verify")
            if threads > 0
            else None
        )

    async def check(self, events: list[Event]) -> list[bool]:
        """Whether each signature holds, checked in one hop to the worker thread."""
        if self._executor is None:
            return _signatures_valid(events)
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, _signatures_valid, events)
        except RuntimeError:  # the executor was shut down: check here instead
            return _signatures_valid(events)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=False)


class Fanout(Protocol):
    """Where accepted events go live: the live index (subscriptions.Index), or the index
    plus the other processes on the same PostgreSQL database (fanout_pg.PgFanout)."""

    def notify(self, event: Event, raw: bytes) -> int:
        """Deliver to every matching subscription; how many matched here."""


class Ingest:
    """The EVENT path shared by every connection of one relay."""

    def __init__(
        self,
        store: EventStore,
        index: Fanout,
        rules: list[policy.Reject],
        verifier: Verifier,
        batch_max: int = 512,
    ) -> None:
        self.store = store
        self.index = index
        self.rules = rules
        self.verifier = verifier
        self._batch_max = batch_max
        self._pending: list[tuple[Event, bytes, Done]] = []
        self._draining = False
        self._busy: set[asyncio.Future[Any]] = set()  # the drain task, the batches saving

    def screen(self, event: Event, ctx: policy.Context) -> str | None:
        """The synchronous checks: the id, then every policy rule. None: carry on."""
        if not event.id_matches():
            return BAD_ID
        return policy.check(self.rules, event, ctx)

    def submit(self, event: Event, raw: bytes, done: Done) -> None:
        """Signature, then store, batched with the other events waiting; ``done`` is
        called once: with the store's answer after the commit (in submission order for
        every event whose signature holds), with the refusal of a bad signature as soon
        as it is checked, or with the exception when the store fails (nothing was
        acknowledged then). The caller sends the OK, then calls :meth:`fan_out`."""
        self._pending.append((event, raw, done))
        if not self._draining:
            self._draining = True
            self._keep(asyncio.get_running_loop().create_task(self._drain()))

    async def finish(self, timeout: float) -> None:
        """Wait, at most ``timeout`` seconds, until every submitted event is answered."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._busy and (left := deadline - loop.time()) > 0:
            await asyncio.wait(set(self._busy), timeout=left)

    def _keep(self, future: asyncio.Future[Any]) -> None:
        self._busy.add(future)
        future.add_done_callback(self._busy.discard)

    async def _drain(self) -> None:
        """Verify what is waiting, hand it to the store without waiting for the commit
        (the next batch is verified meanwhile), repeat until nothing waits."""
        try:
            while self._pending:
                batch = self._pending[: self._batch_max]
                del self._pending[: self._batch_max]
                valid = await self.verifier.check([event for event, _, _ in batch])
                passed = []
                for item, ok in zip(batch, valid, strict=True):
                    if ok:
                        passed.append(item)
                    else:
                        _tell(item, _BAD_SIGNATURE)
                if passed:
                    self._save(passed)
        finally:
            self._draining = False

    def _save(self, batch: list[tuple[Event, bytes, Done]]) -> None:
        try:
            saving = self.store.save_many([(event, raw) for event, raw, _ in batch])
        except Exception as exc:  # the store is closed
            for item in batch:
                _tell(item, exc)
            return
        saving.add_done_callback(partial(_saved, batch))
        self._keep(saving)

    async def accept(self, event: Event, raw: bytes) -> SaveResult:
        """:meth:`submit` awaited: signature, then store (which answers ephemeral events
        without keeping them), batched with the connections' events.
        The caller sends the OK, then calls :meth:`fan_out`, so the publisher hears first.

        Raises :class:`~shieldmutual.shared.errors.StoreError` when the store fails;
        nothing was acknowledged then.
        """
        answer: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()

        def done(_event: Event, _raw: bytes, outcome: Outcome) -> None:
            if not answer.done():  # the caller may have been cancelled meanwhile
                answer.set_result(outcome)

        self.submit(event, raw, done)
        outcome = await answer
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def fan_out(self, event: Event, raw: bytes, result: SaveResult) -> None:
        """Deliver an event just accepted to live subscriptions; a duplicate was
        delivered when it first arrived, so only new events go out."""
        if result.accepted and not result.message:
            self.index.notify(event, raw)


def _saved(
    batch: list[tuple[Event, bytes, Done]],
    saving: asyncio.Future[list[SaveResult | BaseException]],
) -> None:
    for item, outcome in zip(batch, saving.result(), strict=True):
        if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
            outcome = StoreError("the save was cancelled")
        _tell(item, outcome)


def _tell(item: tuple[Event, bytes, Done], outcome: Outcome) -> None:
    """Call one event's ``done``; a fault there is that connection's, never the batch's."""
    event, raw, done = item
    try:
        done(event, raw, outcome)
    except Exception:
        log.exception("answering a saved event failed")
