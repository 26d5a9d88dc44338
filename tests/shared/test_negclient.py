"""shared/negclient.py: the NIP-77 initiator's frames against a pure responder, and every
way a relay can answer something else."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from shieldmutual.shared.negclient import NegError, Reconciliation
from shieldmutual.shared.negentropy import Negentropy, Storage


def item(n: int) -> tuple[int, bytes]:
    return 1_700_000_000 + n % 97, hashlib.sha256(str(n).encode()).digest()


def reconcile(ours: list[tuple[int, bytes]], theirs: list[tuple[int, bytes]]) -> Reconciliation:
    """Run a whole exchange: our frames to a responder holding ``theirs``, its answers back."""
    rec = Reconciliation("s1", {"kinds": [1]}, ours, frame_size_limit=4096)
    responder = Negentropy(Storage(theirs), 4096)
    frame = orjson.loads(rec.open_frame())
    assert frame[:3] == ["NEG-OPEN", "s1", {"kinds": [1]}]
    payload = frame[3]
    while not rec.done:
        answer = ["NEG-MSG", "s1", responder.reconcile(bytes.fromhex(payload)).hex()]
        frame = orjson.loads(rec.answer(answer, len(orjson.dumps(answer))))
        if frame[0] == "NEG-CLOSE":
            assert rec.done and frame == ["NEG-CLOSE", "s1"]
        else:
            payload = frame[2]
    return rec


def test_have_and_need_are_the_differences_over_several_rounds():
    everything = [item(n) for n in range(3000)]
    ours = everything[:2900] + [item(n) for n in range(5000, 5010)]
    rec = reconcile(ours, everything)
    assert set(rec.need) == {i.hex() for _, i in everything[2900:]}
    assert set(rec.have) == {item(n)[1].hex() for n in range(5000, 5010)}
    assert rec.sent > 0 and rec.received > 0


def test_an_empty_side_lists_the_other_sides_ids():
    theirs = [item(n) for n in range(500)]
    assert set(reconcile([], theirs).need) == {i.hex() for _, i in theirs}
    assert reconcile(theirs, theirs).need == []


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (["NEG-ERR", "s1", "blocked: too many query results"], "refused to reconcile: blocked"),
        (["CLOSED", "s1", "auth-required: who are you"], "answered NEG-OPEN with"),
        (["NEG-MSG", "s1", "zz"], "not hex"),
        (["NEG-MSG", "s1", "00"], "bad negentropy message"),
        (["NEG-MSG", "other", "61"], "answered NEG-OPEN with"),
    ],
)
def test_anything_but_a_good_neg_msg_is_a_neg_error(answer, message):
    rec = Reconciliation("s1", {}, [])
    rec.open_frame()
    with pytest.raises(NegError, match=message):
        rec.answer(answer)
