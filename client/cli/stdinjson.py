"""JSON values read from stdin as they arrive (`mas event`, `mas publish`, `mas verify`).

Values come one per line or pretty-printed over several; a blocking read is consumed in
a daemon thread so a command can publish while the rest is still being piped in.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from typing import IO, Any, TypeVar

import orjson

from shieldmutual.shared.errors import InvalidError

T = TypeVar("T")

MAX_VALUE = 4 * 2**20


def read_json_values(stream: IO[str]) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each JSON value, one per line or spread over several lines.

    A line that does not parse is joined with the next ones until the value is complete,
    so pretty-printed JSON works too; what is still incomplete at the end is an error.
    """
    buffer = ""
    start = 0
    for number, line in enumerate(stream, 1):
        if not buffer and not line.strip():
            continue
        if not buffer:
            start = number
        buffer += line
        try:
            value = orjson.loads(buffer)
        except orjson.JSONDecodeError:
            if len(buffer) > MAX_VALUE:
                raise InvalidError(f"stdin line {start}: not valid JSON") from None
            continue
        buffer = ""
        yield start, value
    if buffer.strip():
        try:
            orjson.loads(buffer)
        except orjson.JSONDecodeError as exc:
            raise InvalidError(f"stdin line {start}: not valid JSON ({exc})") from None


async def aiter_thread(iterator: Iterator[T]) -> AsyncIterator[T]:
    """Consume a blocking iterator (stdin) in a daemon thread, as items arrive.

    A daemon thread rather than ``to_thread``: a read blocked on a pipe that never closes
    must not keep the process alive after the command has finished or failed.
    """
    import asyncio

    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    slots = threading.Semaphore(1024)  # back-pressure: at most this many items read ahead

    def put(item: tuple[str, Any]) -> None:
        slots.acquire()
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def pump() -> None:
        try:
            for item in iterator:
                put(("item", item))
            put(("end", None))
        except BaseException as exc:
            with contextlib.suppress(RuntimeError):  # the loop may be closed already
                put(("error", exc))

    threading.Thread(target=pump, name="mas-stdin", daemon=True).start()
    while True:
        kind, value = await queue.get()
        slots.release()
        if kind == "end":
            return
        if kind == "error":
            raise value
        yield value
