"""Negentropy range-based set reconciliation, protocol version 1 (0x61), as NIP-77 uses it.

Both sides hold a set of ``(timestamp, 32-byte id)`` items sorted by timestamp then id.
The initiator sends fingerprints of ranges; the responder answers each range that
differs by splitting it (16 fingerprinted buckets, or the ids themselves when the range
is small), until the initiator knows which ids it has that the other side lacks and the
reverse. The wire format is hoytech/negentropy's spec: MSB-first varints, bounds as a
delta-encoded timestamp (0 = infinity) plus the shortest id prefix that separates two
items, modes Skip (0), Fingerprint (1) and IdList (2).

Every message comes from a stranger, so reading is strict and bounded: a truncated or
over-long varint, a mode we do not know, a bound below the previous one, an id count the
message cannot hold, or a version other than ours raises ``NegentropyError`` (a
responder answers an unknown 0x6X version with our version byte alone, as the spec
says, so the initiator can fall back). Work per message is linear in our set plus the
message: ranges are consecutive, and fingerprints come from prefix sums in O(1).
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from itertools import pairwise

from shieldmutual.shared.errors import MessageError

PROTOCOL_VERSION = 0x61
ID_SIZE = 32
FINGERPRINT_SIZE = 16
# The "infinity" timestamp every real item precedes.
MAX_U64 = 2**64 - 1
# The reference implementations refuse smaller limits: a message must hold at least a
# few ranges besides the closing fingerprint.
MIN_FRAME_SIZE_LIMIT = 4096
# Room kept under the frame size limit for the closing fingerprint range.
_FRAME_MARGIN = 200
_BUCKETS = 16
# Memory a Storage keeps per item: timestamp (8), id (32), running sum (32).
BYTES_PER_ITEM = 72
_MOD = 2**256
# 64 bits need at most ten 7-bit digits.
_MAX_VARINT_BYTES = 10


class NegentropyError(MessageError):
    """A negentropy message that is malformed, hostile or of a version we do not speak."""


class Mode(IntEnum):
    SKIP = 0
    FINGERPRINT = 1
    ID_LIST = 2


# A bound compares with items as (timestamp, id prefix padded with zero bytes to 32).
Bound = tuple[int, bytes]
_INFINITY: Bound = (MAX_U64, b"")


def encode_varint(n: int) -> bytes:
    """``n`` as base-128 digits, most significant first, high bit set on all but the last."""
    digits = [n & 0x7F]
    n >>= 7
    while n:
        digits.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(digits))


class Storage:
    """An immutable set of items, sorted, with prefix sums of ids for O(1) fingerprints.

    Packed (a timestamp array, one bytes of ids, one bytes of 32-byte sums): about
    :data:`BYTES_PER_ITEM` bytes an item, so a relay can budget a session's memory.
    """

    def __init__(self, items: Iterable[tuple[int, bytes]]) -> None:
        keys = list(items)
        # Stores hand over sorted, distinct items: checking is cheaper than sorting.
        if any(b <= a for a, b in pairwise(keys)):
            keys = sorted(set(keys))
        sums = bytearray(ID_SIZE)
        total = 0
        for timestamp, id_ in keys:
            if not 0 <= timestamp < MAX_U64 or len(id_) != ID_SIZE:
                raise ValueError("items are (timestamp below 2^64-1, 32-byte id)")
            total += int.from_bytes(id_, "little")
            if total >= _MOD:
                total -= _MOD
            sums += total.to_bytes(ID_SIZE, "little")
        self._timestamps = array("Q", (timestamp for timestamp, _ in keys))
        self._ids = b"".join(id_ for _, id_ in keys)
        self._sums = bytes(sums)

    def __len__(self) -> int:
        return len(self._timestamps)

    def item(self, index: int) -> tuple[int, bytes]:
        return self._timestamps[index], self._ids[index * ID_SIZE : (index + 1) * ID_SIZE]

    def ids(self, lower: int, upper: int) -> list[bytes]:
        ids = self._ids
        return [ids[i : i + ID_SIZE] for i in range(lower * ID_SIZE, upper * ID_SIZE, ID_SIZE)]

    def fingerprint(self, lower: int, upper: int) -> bytes:
        """SHA-256 of (sum of ids mod 2^256, 32 bytes little-endian) || varint(count), cut to 16."""
        sums = self._sums
        high = int.from_bytes(sums[upper * ID_SIZE : (upper + 1) * ID_SIZE], "little")
        low = int.from_bytes(sums[lower * ID_SIZE : (lower + 1) * ID_SIZE], "little")
        data = ((high - low) % _MOD).to_bytes(ID_SIZE, "little") + encode_varint(upper - lower)
        return hashlib.sha256(data).digest()[:FINGERPRINT_SIZE]

    def lower_bound(self, lower: int, bound: Bound) -> int:
        """The first index at or after ``lower`` whose item is not below ``bound``."""
        return bisect_left(range(len(self)), _padded(bound), lower, key=self.item)


@dataclass(frozen=True)
class Step:
    """One initiator round: the message to send (None when done) and what it learned."""

    next: bytes | None
    have: list[bytes] = field(default_factory=list)
    need: list[bytes] = field(default_factory=list)


class _Reader:
    """Bounded reads from one incoming message; every shortfall is a NegentropyError."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0
        self._last_timestamp = 0

    def more(self) -> bool:
        return self._pos < len(self._data)

    def take(self, n: int) -> bytes:
        if n > len(self._data) - self._pos:
            raise NegentropyError("negentropy message truncated")
        chunk = self._data[self._pos : self._pos + n]
        self._pos += n
        return chunk

    def ids(self) -> dict[bytes, None]:
        """An IdList payload; a count the message cannot hold is refused before reading."""
        count = self.varint()
        if count * ID_SIZE > len(self._data) - self._pos:
            raise NegentropyError("negentropy id list longer than the message")
        return dict.fromkeys(self.take(ID_SIZE) for _ in range(count))

    def varint(self) -> int:
        n = 0
        for _ in range(_MAX_VARINT_BYTES):
            if not self.more():
                raise NegentropyError("negentropy varint truncated")
            byte = self._data[self._pos]
            self._pos += 1
            n = (n << 7) | (byte & 0x7F)
            if not byte & 0x80:
                if n > MAX_U64:
                    raise NegentropyError("negentropy varint over 64 bits")
                return n
        raise NegentropyError("negentropy varint over 64 bits")

    def bound(self) -> Bound:
        encoded = self.varint()
        if encoded == 0 or self._last_timestamp == MAX_U64:
            timestamp = MAX_U64
        else:
            timestamp = self._last_timestamp + encoded - 1
            if timestamp >= MAX_U64:
                raise NegentropyError("negentropy timestamp over 64 bits")
        self._last_timestamp = timestamp
        length = self.varint()
        if length > ID_SIZE:
            raise NegentropyError("negentropy bound prefix longer than an id")
        return timestamp, self.take(length)


class _Writer:
    """Ranges of one outgoing message: bounds delta-encoded, adjacent skips coalesced.

    A skip is only written when a later range follows it, since a message ends with an
    implicit skip to infinity.
    """

    def __init__(self) -> None:
        self._last_timestamp = 0
        self.skip_to: Bound | None = None

    def range(self, bound: Bound, mode: Mode) -> bytes:
        head = b""
        if self.skip_to is not None:
            skip_to, self.skip_to = self.skip_to, None
            head = self.range(skip_to, Mode.SKIP)
        timestamp, prefix = bound
        if timestamp == MAX_U64:
            self._last_timestamp = MAX_U64
            encoded = 0
        else:
            encoded = timestamp - self._last_timestamp + 1
            self._last_timestamp = timestamp
        return head + encode_varint(encoded) + encode_varint(len(prefix)) + prefix + bytes([mode])


def _minimal_bound(prev: tuple[int, bytes], curr: tuple[int, bytes]) -> Bound:
    """The shortest bound above ``prev`` and not above ``curr`` (spec: "Bound")."""
    if curr[0] != prev[0]:
        return curr[0], b""
    shared = 0
    while shared < ID_SIZE and prev[1][shared] == curr[1][shared]:
        shared += 1
    return curr[0], curr[1][: shared + 1]


def _padded(bound: Bound) -> tuple[int, bytes]:
    return bound[0], bound[1].ljust(ID_SIZE, b"\0")


class Negentropy:
    """One side of one reconciliation; an instance is either initiator or responder."""

    def __init__(self, storage: Storage, frame_size_limit: int = 0) -> None:
        if frame_size_limit and frame_size_limit < MIN_FRAME_SIZE_LIMIT:
            raise ValueError(f"frame size limit must be 0 or at least {MIN_FRAME_SIZE_LIMIT}")
        self._storage = storage
        self._limit = frame_size_limit
        self._initiator: bool | None = None

    def initiate(self) -> bytes:
        """The initiator's first message: the whole universe, split."""
        if self._initiator is not None:
            raise NegentropyError("negentropy session already started")
        self._initiator = True
        return bytes([PROTOCOL_VERSION]) + self._split(_Writer(), 0, len(self._storage), _INFINITY)

    def reconcile(self, message: bytes) -> bytes:
        """The responder's reply to one message from the initiator."""
        if self._initiator:
            raise NegentropyError("the initiator must call reconcile_initiator")
        self._initiator = False
        return self._reconcile(message, [], [])

    def reconcile_initiator(self, message: bytes) -> Step:
        """Read the responder's reply: what to send next (None when done), have and need."""
        if not self._initiator:
            raise NegentropyError("reconcile_initiator before initiate")
        have: list[bytes] = []
        need: list[bytes] = []
        out = self._reconcile(message, have, need)
        return Step(None if len(out) == 1 else out, have, need)

    def _over(self, size: int) -> bool:
        return bool(self._limit) and size > self._limit - _FRAME_MARGIN

    def _reconcile(self, message: bytes, have: list[bytes], need: list[bytes]) -> bytes:
        reader = _Reader(message)
        version = message[0] if message else None
        if version is None or not 0x60 <= version <= 0x6F:
            raise NegentropyError("not a negentropy message (bad protocol version byte)")
        out = bytearray([PROTOCOL_VERSION])
        if version != PROTOCOL_VERSION:
            if self._initiator:
                raise NegentropyError(f"unsupported negentropy protocol version {version:#x}")
            return bytes(out)
        reader.take(1)

        writer = _Writer()
        storage = self._storage
        prev_index = 0
        prev_bound: Bound = (0, b"")
        # Index just past the last range written out: a closing fingerprint starts there.
        emitted = 0
        while reader.more():
            bound = reader.bound()
            if _padded(bound) < _padded(prev_bound):
                raise NegentropyError("negentropy ranges out of order")
            try:
                mode = Mode(reader.varint())
            except ValueError:
                raise NegentropyError("unknown negentropy mode") from None
            lower = prev_index
            upper = storage.lower_bound(lower, bound)
            part = b""
            if mode is Mode.SKIP:
                writer.skip_to = bound
            elif mode is Mode.FINGERPRINT:
                if reader.take(FINGERPRINT_SIZE) == storage.fingerprint(lower, upper):
                    writer.skip_to = bound
                else:
                    part = self._split(writer, lower, upper, bound)
            elif self._initiator:
                theirs = reader.ids()
                for id_ in storage.ids(lower, upper):
                    if id_ in theirs:
                        del theirs[id_]
                    else:
                        have.append(id_)
                need.extend(theirs)
                writer.skip_to = bound
            else:
                reader.ids()
                listed, upper = self._id_list(writer, lower, upper, bound, len(out))
                out += listed
                emitted = upper

            if self._over(len(out) + len(part)):
                # Over the frame size limit: one fingerprint for everything not yet written,
                # which the other side compares and splits again in the next round.
                writer.skip_to = None
                out += writer.range(_INFINITY, Mode.FINGERPRINT)
                out += storage.fingerprint(emitted, len(storage))
                break
            if part:
                out += part
                emitted = upper
            prev_index = upper
            prev_bound = bound
        return bytes(out)

    def _id_list(
        self, writer: _Writer, lower: int, upper: int, bound: Bound, used: int
    ) -> tuple[bytes, int]:
        """The responder's ids in a range, cut where the frame is full; and where it ends."""
        ids = bytearray()
        end, end_bound = upper, bound
        for index in range(lower, upper):
            if self._over(used + len(ids)):
                end, end_bound = index, self._storage.item(index)
                break
            ids += self._storage.item(index)[1]
        head = writer.range(end_bound, Mode.ID_LIST) + encode_varint(end - lower)
        return head + ids, end

    def _split(self, writer: _Writer, lower: int, upper: int, upper_bound: Bound) -> bytes:
        """Our answer to a range that differs: its ids when few, else 16 fingerprints."""
        storage = self._storage
        count = upper - lower
        if count < 2 * _BUCKETS:
            head = writer.range(upper_bound, Mode.ID_LIST) + encode_varint(count)
            return head + b"".join(storage.ids(lower, upper))
        out = bytearray()
        per_bucket, extra = divmod(count, _BUCKETS)
        curr = lower
        for bucket in range(_BUCKETS):
            start = curr
            curr += per_bucket + (1 if bucket < extra else 0)
            if curr == upper:
                bound = upper_bound
            else:
                bound = _minimal_bound(storage.item(curr - 1), storage.item(curr))
            out += writer.range(bound, Mode.FINGERPRINT) + storage.fingerprint(start, curr)
        return bytes(out)
