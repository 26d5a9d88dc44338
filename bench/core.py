"""Benchmark of the pure core (shared/): parse + verify, sign, filter matching.

Not a test. Run from the repository root with the project installed:

    python -m bench.core [--n 20000] [--repeat 3] [--authors 200] [--seed 1]

Every figure is the best of ``--repeat`` runs timed with ``time.perf_counter``. The
headline is the cost of accepting an event off the wire (``Event.from_json`` then
``verify``: shape check, id recomputation, BIP-340 signature) against the bare floor, a
``keys.verify`` call on the same events' already-decoded bytes, measured in the same run.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from hashlib import sha256

from shieldmutual.shared import event, keys
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter

TARGET_RATIO = 1.5
WORDS = (  # noqa: SIM905 - a sentence reads better than a 31-line list
    "water food shelter ride medicine childcare repair tools blankets meeting tonight "
    "tomorrow neighbour help offer request urgent thanks delivered street north south "
    "café niño 🙏 🚲 📦 — «quoted» line\nbreak tab\there"
).split(" ")
HASHTAGS = ("mutualaid", "food", "housing", "transport", "medical", "tools", "flood")
RELAYS = ("wss://relay.example.org", "wss://aid.example.net", "")


def _secret(seed: int, i: int) -> keys.SecretKey:
    return keys.SecretKey(sha256(f"bench-{seed}-{i}".encode()).digest())


def _text(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def _hex(rng: random.Random) -> str:
    return rng.randbytes(32).hex()


def _tags(rng: random.Random, authors: Sequence[str]) -> list[list[str]]:
    tags: list[list[str]] = []
    if rng.random() < 0.6:  # a reply: NIP-10 root/reply markers and mentions
        tags.append(["e", _hex(rng), rng.choice(RELAYS), "root"])
        if rng.random() < 0.5:
            tags.append(["e", _hex(rng), rng.choice(RELAYS), "reply"])
        for _ in range(rng.randint(1, 3)):
            tags.append(["p", rng.choice(authors)])
    for _ in range(rng.randint(0, 3)):
        tags.append(["t", rng.choice(HASHTAGS)])
    if rng.random() < 0.2:
        tags.append(["g", "u4pruydqqvj"])
    if rng.random() < 0.1:
        tags.append(["client", "shieldmutual", "31990:" + rng.choice(authors) + ":app"])
    return tags


def make_specs(
    n: int, n_authors: int, seed: int
) -> tuple[list[keys.SecretKey], list[tuple[int, int, str, list[list[str]], int]]]:
    """(author index, kind, content, tags, created_at) for n realistic events."""
    rng = random.Random(seed)
    secrets = [_secret(seed, i) for i in range(n_authors)]
    authors = [s.public_hex for s in secrets]
    specs = []
    for _ in range(n):
        kind = rng.choices((1, 7, 30402, 1111, 6), weights=(70, 12, 8, 6, 4))[0]
        content = "+" if kind == 7 else _text(rng, 3, 60)
        specs.append(
            (
                rng.randrange(n_authors),
                kind,
                content,
                _tags(rng, authors),
                1_700_000_000 + rng.randrange(30_000_000),
            )
        )
    return secrets, specs


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """Smallest wall time of ``repeat`` calls to ``fn``."""
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>12,.0f}/s  ({seconds * 1e6 / count:7.2f} µs each)"


Spec = tuple[int, int, str, list[list[str]], int]


def sign_all(
    secrets: list[keys.SecretKey], specs: list[Spec], repeat: int
) -> tuple[list[Event], float]:
    """Every event signed (id + BIP-340 signature), and the best time to sign them all."""
    signed: list[Event] = []

    def run() -> None:
        signed.clear()
        for author, kind, content, tags, created_at in specs:
            signed.append(event.sign(secrets[author], kind, content, tags, created_at))

    return signed, best_of(repeat, run)


def accept_times(
    signed: list[Event], texts: list[bytes], parsed: list[Event], repeat: int
) -> tuple[float, float, float, float]:
    """Accept off the wire (from_json + verify), the bare signature check, from_json alone
    and the id recomputation alone: interleaved in the same rounds, so all see one load."""
    raw = [(bytes.fromhex(e.pubkey), bytes.fromhex(e.id), bytes.fromhex(e.sig)) for e in signed]

    def parse_verify() -> None:
        for text in texts:
            Event.from_json(text).verify()

    def parse_only() -> None:
        for text in texts:
            Event.from_json(text)

    def id_only() -> None:
        for ev in parsed:
            if not ev.id_matches():
                raise AssertionError(ev.id)

    def bare_verify() -> None:
        verify = keys.verify
        for pubkey, id_, sig in raw:
            if not verify(pubkey, id_, sig):
                raise AssertionError(id_.hex())

    t_full = t_bare = t_parse = t_id = float("inf")
    for _ in range(repeat):
        t_bare = min(t_bare, best_of(1, bare_verify))
        t_full = min(t_full, best_of(1, parse_verify))
        t_parse = min(t_parse, best_of(1, parse_only))
        t_id = min(t_id, best_of(1, id_only))
    return t_full, t_bare, t_parse, t_id


def sample_filters(signed: list[Event]) -> list[Filter]:
    some_authors = sorted({ev.pubkey for ev in signed[:50]})
    return [
        Filter.from_dict({"kinds": [1], "authors": some_authors[:10]}),
        Filter.from_dict({"#t": ["food", "flood"], "since": 1_710_000_000}),
        Filter.from_dict({"ids": [ev.id for ev in signed[:100]]}),
        Filter.from_dict({"kinds": [30402], "#p": some_authors, "until": 1_720_000_000}),
        Filter.from_dict({"#e": [signed[0].tags[0][1] if signed[0].tags else "0" * 64]}),
        Filter.from_dict({"search": "water urgent", "kinds": [1, 30402]}),
        Filter.from_dict({}),
    ]


def match_time(filters: list[Filter], parsed: list[Event], repeat: int) -> tuple[int, float]:
    """Hits of every filter on every event, and the best time to evaluate them all."""
    hits = [0]

    def match_all() -> None:
        count = 0
        for f in filters:
            matches = f.matches
            for ev in parsed:
                if matches(ev):
                    count += 1
        hits[0] = count

    t_match = best_of(repeat, match_all)
    return hits[0], t_match


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="events (default 20000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs, best kept (default 3)")
    parser.add_argument("--authors", type=int, default=200, help="distinct authors (default 200)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    n, repeat = args.n, args.repeat

    print("Shield Mutual core benchmark (shared/)")
    print(f"  platform : {platform.platform()}")
    print(f"  machine  : {platform.machine()} {_cpu_model()}")
    print(f"  cpus     : {os.cpu_count()}")
    print(f"  python   : {platform.python_implementation()} {sys.version.split()[0]}")
    print(f"  events   : {n:,} from {args.authors} authors, best of {repeat}")
    print()

    secrets, specs = make_specs(n, args.authors, args.seed)
    signed, t_sign = sign_all(secrets, specs, repeat)
    texts = [ev.to_json() for ev in signed]
    size = sum(map(len, texts))
    print(f"  wire size: {size / n:.0f} bytes/event on average, {size / 1e6:.1f} MB in total")
    print()
    parsed = [Event.from_json(text) for text in texts]
    t_full, t_bare, t_parse, t_id = accept_times(signed, texts, parsed, repeat)
    filters = sample_filters(signed)
    hits, t_match = match_time(filters, parsed, repeat)
    evaluations = n * len(filters)

    ratio = t_full / t_bare
    verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
    print("  sign (id + BIP-340 signature)        " + rate(n, t_sign))
    print("  bare keys.verify (floor)             " + rate(n, t_bare))
    print("  from_json + verify (accept)          " + rate(n, t_full))
    print("    of which from_json only            " + rate(n, t_parse))
    print("    of which id recomputation only     " + rate(n, t_id))
    print(
        f"  filter.matches ({len(filters)} filters)          "
        + rate(evaluations, t_match)
        + f"  [{hits:,} hits]"
    )
    print()
    print(
        f"  ratio (from_json + verify) / (bare verify) = {ratio:.2f}x "
        f"(target <= {TARGET_RATIO}x): {verdict}"
    )
    return 0


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return "(" + line.split(":", 1)[1].strip() + ")"
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    raise SystemExit(main())
