"""Memory freed by a departed client goes back to the operating system (relay/trim.py)."""

from __future__ import annotations

import asyncio

import pytest

from shieldmutual.relay.trim import Trimmer
from tests.waiting import until


def anon_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc/self/status")


async def test_a_trim_returns_freed_heap_to_the_system() -> None:
    trimmer = Trimmer(interval=0.0)
    if not trimmer.available:
        pytest.skip("this C library has no malloc_trim (not glibc)")
    # Many small objects, as frames and rows are: freed, glibc keeps their pages.
    blocks = [bytes(200) + i.to_bytes(4, "big") for i in range(400_000)]
    del blocks[::2]  # fragment, so the arena cannot just shrink from its top
    held = anon_kib()
    blocks.clear()
    before = anon_kib()
    trimmer.request()
    await until(lambda: trimmer.trims == 1)
    after = anon_kib()
    assert held - after > 20_000, (held, before, after)  # most of ~60 MiB came back
    assert after < before


async def test_requests_fold_into_at_most_one_trim_per_interval() -> None:
    trimmer = Trimmer(interval=0.2)
    if not trimmer.available:
        pytest.skip("this C library has no malloc_trim (not glibc)")
    for _ in range(50):
        trimmer.request()
    await until(lambda: trimmer.trims >= 1)
    trimmer.request()  # within the interval: not dropped, deferred
    await until(lambda: trimmer.trims == 2)
    await asyncio.sleep(0)
    assert trimmer.trims == 2


async def test_a_trim_waits_for_the_clients_cancelled_work() -> None:
    trimmer = Trimmer(interval=0.0)
    if not trimmer.available:
        pytest.skip("this C library has no malloc_trim (not glibc)")
    release = asyncio.Event()
    work = asyncio.create_task(release.wait())
    trimmer.request_after([work])
    for _ in range(5):  # a premature trim would be scheduled at once
        await asyncio.sleep(0)
    assert not trimmer.scheduled and trimmer.trims == 0
    release.set()
    await until(lambda: trimmer.trims == 1)
