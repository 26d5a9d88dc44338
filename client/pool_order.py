"""A subscription's events in arrival order while their signatures are checked elsewhere.

Once a subscription's signatures go to the worker process (client/verifier.py), an event
is delivered only when its verdict is in, and nothing may overtake it: later events, and a
relay's EOSE or CLOSED after them, wait in this line. Everything else is decided as the
synchronous path decides it, at the same point of the order:

* a copy of an id whose check is in flight is held, not checked again; at its turn it is
  a duplicate if the first copy was delivered, else it is checked then (a relay forging
  an id must not suppress the genuine copy, and must not cost a second check either). A
  copy recognised from its frame's bytes is held as those bytes and parsed only in that
  second case: in a feed over 3 relays a third of the other relays' copies arrive while
  the first is in flight, and were each parsed only to be dropped (issue 15);
* the id (sha256 of the serialization) and the filters are checked at arrival, on the
  loop; only the signature waits;
* a line that reaches its limit with signals (EOSE, CLOSED) is caught up inline, so a
  flood of them costs bounded memory; events pause the socket instead (the caller's
  backpressure), so the line holds at most ``limit`` of them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from shieldmutual.client.verifier import Batch, Verifier, Waiter
from shieldmutual.shared.event import Event
from shieldmutual.shared.messages import ParseError, RelayEvent, parse_relay_message


class _Check:
    """One event in line: ``batch``/``index`` locate its verdict; neither for a copy held
    behind another relay's copy of the same id, which may still be its unread ``frame``
    (``event`` None)."""

    __slots__ = ("batch", "event", "frame", "id", "index", "url")

    def __init__(
        self,
        url: str,
        event: Event | None,
        batch: Batch | None = None,
        index: int = 0,
        *,
        event_id: str = "",
        frame: bytes = b"",
    ):
        self.url = url
        self.event = event
        self.id = event_id if event is None else event.id
        self.frame = frame
        self.batch = batch
        self.index = index


class InOrder:
    """The line; ``take(url, event, valid)`` delivers or counts an event as the
    subscription's synchronous path does, ``duplicate(url, id)`` is its seen check,
    ``matches`` its filters, ``invalid(url)`` counts a held frame found unreadable."""

    def __init__(
        self,
        take: Callable[[str, Event, bool], None],
        duplicate: Callable[[str, str], bool],
        matches: Callable[[Event], bool],
        invalid: Callable[[str], None],
        limit: int,
    ) -> None:
        self._take = take
        self._duplicate = duplicate
        self._matches = matches  # the subscription's filters
        self._invalid = invalid
        self._limit = limit
        self._line: deque[_Check | Callable[[], None]] = deque()
        self._checking: set[str] = set()  # ids whose signature check is in flight

    def __len__(self) -> int:
        return len(self._line)

    def event(self, url: str, event: Event, verifier: Verifier | None, waiter: Waiter) -> None:
        """An event not seen before, in line behind what came before it."""
        if event.id in self._checking:
            self._line.append(_Check(url, event))
        elif verifier is None:
            self._checking.add(event.id)
            self._line.append(_Check(url, event, _INLINE, int(self._valid(event))))
        elif not event.id_matches() or not self._matches(event):
            self._take(url, event, False)  # counted now, as the synchronous path would
        else:
            self._checking.add(event.id)
            batch, index = verifier.submit(event.pubkey, event.id, event.sig, waiter)
            self._line.append(_Check(url, event, batch, index))

    def checking(self, event_id: str) -> bool:
        """Whether a copy of ``event_id`` is in line for its signature check."""
        return event_id in self._checking

    def copy(self, url: str, event_id: str, frame: bytes) -> None:
        """Another relay's copy of an id being :meth:`checking`, as its frame's bytes."""
        self._line.append(_Check(url, None, event_id=event_id, frame=frame))

    def _valid(self, event: Event) -> bool:
        """The synchronous path's whole check, inline."""
        return event.is_valid() and self._matches(event)

    def call(self, signal: Callable[[], None]) -> None:
        """A relay's signal (EOSE, CLOSED): after the events before it."""
        if not self._line:
            signal()
            return
        if len(self._line) >= self._limit:
            self.catch_up()
            signal()
            return
        self._line.append(signal)

    def drain(self) -> None:
        """Deliver from the head while verdicts are in."""
        line = self._line
        while line:
            head = line[0]
            if isinstance(head, _Check):
                if head.batch is not None and not head.batch.done:
                    return
                line.popleft()
                self._settle(head)
            else:
                line.popleft()
                head()

    def catch_up(self) -> None:
        """Settle the whole line now, checking inline what the worker has not answered (a
        socket dropped: its state must be current before it reconnects)."""
        line = self._line
        while line:
            head = line.popleft()
            if isinstance(head, _Check):
                self._settle(head, inline=head.batch is not None and not head.batch.done)
            else:
                head()

    def clear(self) -> None:
        """Forget the line (the subscription ended: nobody reads it)."""
        self._line.clear()
        self._checking.clear()

    def _settle(self, check: _Check, inline: bool = False) -> None:
        """Decide one event at its turn. Its id may have been delivered meanwhile by a
        copy ahead of it (held behind a forged one, then checked): then it is a
        duplicate, as it would be on the synchronous path."""
        url, event, batch = check.url, check.event, check.batch
        if batch is not None:
            self._checking.discard(check.id)
        if self._duplicate(url, check.id):
            return
        if event is None:  # a copy held as its frame's bytes
            event = self._read(check)
            if event is None:
                return
        if batch is None:  # a copy held behind another relay's: checked only now
            valid = self._valid(event)
        elif batch is _INLINE:
            valid = check.index == 1
        else:
            verdict = None if inline else batch.valid(check.index)
            valid = event.signature_valid() if verdict is None else verdict
        self._take(url, event, valid)

    def _read(self, check: _Check) -> Event | None:
        """A held frame's event, parsed only now that the copy ahead of it was not
        delivered; None when it is unreadable (counted) or its JSON names another id than
        its bytes did (a repeated "id" key) and that one was delivered already."""
        event = _event_of(check.frame)
        if event is None:
            self._invalid(check.url)
        elif event.id != check.id and self._duplicate(check.url, event.id):
            return None
        return event


def _event_of(frame: bytes) -> Event | None:
    """The event of a held EVENT frame, parsed as the relay connection parses any frame;
    None when it does not read as one."""
    try:
        message = parse_relay_message(frame)
    except ParseError:
        return None
    return message.event if isinstance(message, RelayEvent) else None


# The batch of events checked inline while the line was not empty (the worker not up yet,
# or gone): ``index`` is then the verdict itself.
_INLINE = Batch()
_INLINE.done = True
