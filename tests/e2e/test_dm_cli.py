"""`mas dm` over real relays: send (argument or stdin), read, the 10050 list, rust-nostr.

Alice and Bob each have their own MAS_HOME. Bob asks for DMs on a relay Alice does not
use; Alice's message still reaches him there. A message from rust-nostr shows up in
`mas dm read`, and one sent by `mas dm send` opens in rust-nostr.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import nostr_sdk
import orjson

from shieldmutual.client.pool import Pool
from shieldmutual.shared import kinds, nip19
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey


class Person:
    def __init__(
        self,
        name: str,
        tmp_path: Path,
        base: dict[str, str],
        relays: list[str],
        run_mas: Callable[..., Any],
    ) -> None:
        self.env = {**base, "MAS_HOME": str(tmp_path / f"home-{name}")}
        self.run_mas = run_mas
        identity = orjson.loads(self("id", "new", name, "--json").stdout)
        self.npub, self.pubkey = identity["npub"], identity["pubkey"]
        self("relays", "add", *relays)

    def __call__(self, *args: str, input: str | None = None) -> Any:
        result = self.run_mas(self.env, *args, input=input)
        assert result.code == 0, f"mas {' '.join(args)}: {result.stderr}"
        return result

    def inbox(self, *extra: str) -> list[dict[str, Any]]:
        out = self("dm", "read", "--json", *extra).stdout
        return [orjson.loads(line) for line in out.splitlines() if line.strip()]


def test_send_read_and_the_dm_relay_list(
    tmp_path: Path, mas_env: dict[str, str], relays: Any, run_mas: Callable[..., Any]
):
    shared, bobs_own = relays(2)
    alice = Person("alice", tmp_path, mas_env, [shared.url], run_mas)
    bob = Person("bob", tmp_path, mas_env, [shared.url, bobs_own.url], run_mas)
    listed = bob("dm", "relays", bobs_own.url, "--json", "-r", shared.url)
    assert orjson.loads(listed.stdout) == {"relays": [bobs_own.url]}
    assert orjson.loads(alice("dm", "relays", "--json").stdout) == {"relays": []}

    sent = orjson.loads(alice("dm", "send", bob.npub, "--json", input="hello bob").stdout)
    assert {r["relay"] for r in sent["results"] if r["ok"]} >= {shared.url, bobs_own.url}
    alice("dm", "send", bob.npub, input="second line\nfrom stdin\n")

    # Both were sent within a second or two; inside one second the order is undefined
    # (created_at has one-second resolution), so compare oldest-first by time, then the set.
    both = ["hello bob", "second line\nfrom stdin"]
    only_his_relay = bob.inbox("-r", bobs_own.url)
    assert sorted(m["content"] for m in only_his_relay) == both
    assert [m["created_at"] for m in only_his_relay] == sorted(
        m["created_at"] for m in only_his_relay
    )
    assert all(m["from"] == alice.npub and m["to"] == [bob.npub] for m in only_his_relay)
    # Alice reads what she sent: her own copy of each message.
    assert sorted(m["content"] for m in alice.inbox()) == both
    bob("dm", "send", alice.npub, input="hi alice")
    assert [m["content"] for m in alice.inbox("--from", bob.npub)] == ["hi alice"]
    human = bob("dm", "read").stdout
    assert "hello bob" in human and "hi alice" in human


async def test_dm_cli_interoperates_with_rust_nostr(
    tmp_path: Path, mas_env: dict[str, str], relays: Any, run_mas: Callable[..., Any]
) -> None:
    (relay,) = relays(1)
    alice = Person("alice", tmp_path, mas_env, [relay.url], run_mas)
    rust = nostr_sdk.Keys.generate()
    made = nostr_sdk.nip17_make_private_msg(
        rust, nostr_sdk.PublicKey.parse(alice.pubkey), "from rust-nostr"
    )
    async with Pool([relay.url]) as pool:
        assert (await pool.publish(Event.from_json(made.as_json()))).ok()
    (message,) = alice.inbox()
    assert message["content"] == "from rust-nostr"
    assert message["from"] == nip19.npub_encode(rust.public_key().to_hex())

    alice("dm", "send", rust.public_key().to_bech32(), input="from mas")
    their_secret = SecretKey(bytes.fromhex(rust.secret_key().to_hex()))
    async with Pool([relay.url], auth=their_secret) as pool:
        inbox = {"p": frozenset({their_secret.public_hex})}
        wraps = await pool.fetch([Filter(kinds=frozenset({kinds.GIFT_WRAP}), tags=inbox)])
    (wrap,) = wraps
    gift = nostr_sdk.UnwrappedGift.from_gift_wrap(
        rust, nostr_sdk.Event.from_json(wrap.to_json().decode())
    )
    assert gift.sender().to_hex() == alice.pubkey
    assert gift.rumor().content() == "from mas"
