"""NIP-17 private direct messages (kind 14 rumors) and the kind 10050 DM relay list.

A DM is a kind 14 rumor naming every recipient in ``p`` tags, gift-wrapped (NIP-59)
once per recipient and once for the sender, so the sender can read their own sent
messages from any device and nobody else learns who talks to whom. The 10050 list
says where a person wants to receive DMs; senders publish wraps there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shieldmutual.shared import kinds, nip59
from shieldmutual.shared.errors import EventError, InvalidError
from shieldmutual.shared.event import Event, Rumor, sign
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.relayurl import normalize_relay_url

MAX_DM_RELAYS = 20  # NIP-17 asks for short lists; more is a sign of a mistake


@dataclass(frozen=True, slots=True)
class DirectMessage:
    """A kind 14 message after unwrapping: who wrote it, to whom, and what."""

    id: str
    sender: str
    recipients: tuple[str, ...]
    content: str
    created_at: int
    subject: str | None = None
    reply_to: str | None = None


def dm_rumor(
    sender: str,
    recipients: Sequence[str],
    message: str,
    subject: str | None = None,
    reply_to: str | None = None,
    created_at: int | None = None,
) -> Rumor:
    """The unsigned kind 14 chat message with a ``p`` per recipient."""
    if not recipients:
        raise EventError("a direct message needs at least one recipient")
    if not message:
        raise EventError("a direct message needs some text")
    tags: list[list[str]] = [["p", pubkey] for pubkey in dict.fromkeys(recipients)]
    if reply_to:
        tags.append(["e", reply_to, "", "reply"])
    if subject:
        tags.append(["subject", subject])
    return nip59.make_rumor(sender, kinds.DIRECT_MESSAGE, message, tags, created_at)


def wrap_dm(sender: SecretKey, rumor: Rumor, include_self: bool = True) -> dict[str, Event]:
    """One gift wrap per recipient (and one for the sender unless asked not to)."""
    targets = list(dict.fromkeys(rumor.tag_values("p")))
    if include_self and sender.public_hex not in targets:
        targets.append(sender.public_hex)
    return {pubkey: nip59.wrap(sender, pubkey, rumor) for pubkey in targets}


def parse_dm(unwrapped: nip59.Unwrapped) -> DirectMessage:
    """Read a kind 14 rumor; unwrap already proved the seal's signer wrote it."""
    rumor = unwrapped.rumor
    if rumor.kind != kinds.DIRECT_MESSAGE:
        raise EventError(f"a direct message is kind {kinds.DIRECT_MESSAGE}, not {rumor.kind}")
    reply = next((t[1] for t in rumor.tags if t[0] == "e" and len(t) > 1), None)
    return DirectMessage(
        rumor.id,
        unwrapped.sender,
        tuple(rumor.tag_values("p")),
        rumor.content,
        rumor.created_at,
        rumor.first_tag("subject"),
        reply,
    )


def dm_relay_list(secret: SecretKey, relays: Iterable[str]) -> Event:
    """Kind 10050: where ``secret``'s owner wants DMs delivered."""
    urls = list(dict.fromkeys(relays))
    if not urls:
        raise EventError("a DM relay list needs at least one relay")
    if len(urls) > MAX_DM_RELAYS:
        raise EventError(f"a DM relay list holds at most {MAX_DM_RELAYS} relays")
    return sign(secret, kinds.DM_RELAY_LIST, "", [["relay", url] for url in urls])


def parse_dm_relay_list(event: Event) -> list[str]:
    """The valid relay URLs of a kind 10050 event, normalized, in order and without
    repeats; an entry that is no relay URL (a control character, another scheme) is
    skipped, as it would be shown on screens and dialled (shared/relayurl.py)."""
    if event.kind != kinds.DM_RELAY_LIST:
        raise EventError(f"a DM relay list is kind {kinds.DM_RELAY_LIST}, not {event.kind}")
    urls: dict[str, None] = {}
    for value in event.tag_values("relay"):
        with contextlib.suppress(InvalidError):
            urls.setdefault(normalize_relay_url(value), None)
    return list(urls)
