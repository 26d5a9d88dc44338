"""Relay benchmark: mas-relay against strfry (``--strfry PATH``) and the PyPI ``nostr-relay``.

Four scenarios, each run against every relay found, one fresh relay subprocess and
temporary database per relay (and another fresh one for the connection count):

1. ingest      N pre-signed events over 4 pipelined connections (window of outstanding
               EVENTs per connection); events/s until the last OK.
2. query       M REQs of four typical shapes on the N-event store from 8 connections, one
               REQ in flight per connection; REQs/s and ms from REQ to EOSE.
3. fan-out     S subscribers (split over --procs worker processes) each hold a kind-1 + #t
               subscription; one publisher sends R events/s for T s with its send time in
               the content; delivery latency per (event, subscriber).
4. connections C idle websocket connections; relay RSS growth per connection.

Usage:  python bench/relay.py [--quick] [--relays ours,strfry,nostr-relay] [--strfry PATH]
                             [--before DIR] [--profile DIR]
bench/scenarios_scale.py runs issue 15's larger scenarios with the same load generator.
Only 127.0.0.1 is ever contacted. This is a benchmark that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import multiprocessing
import os
import platform
import random
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _load  # the sibling helper module; spawned workers import it too

from shieldmutual.shared import event as nostr_event
from shieldmutual.shared import keys

CLK_TCK = os.sysconf("SC_CLK_TCK")
DEFAULT_NOSTR_RELAY = Path("/tmp/nostr-relay-venv/bin/nostr-relay")

# strfry on this 2-core machine, and the targets our relay is held to.
STRFRY = {
    "ingest": "6,300 ev/s",
    "reqs": "850 REQ/s",
    "eose_median": "16 ms",
    "live_median": "50 ms",
    "live_p99": "110 ms",
    "conn_kb": "~80 KB",
}

WORDS = (
    "water",
    "food",
    "shelter",
    "ride",
    "medicine",
    "childcare",
    "repair",
    "tools",
    "loan",
    "rent",
    "heat",
    "meals",
    "pantry",
    "shift",
    "volunteer",
    "pickup",
    "dropoff",
    "tonight",
    "tomorrow",
    "urgent",
    "thanks",
    "offer",
    "need",
    "neighbour",
    "fridge",
    "garden",
    "bikes",
    "blankets",
    "diapers",
    "insulin",
    "clinic",
    "transport",
    "phone",
    "charger",
    "laundry",
    "tent",
    "coats",
    "boots",
    "library",
    "school",
    "bus",
    "walk",
    "check-in",
    "call",
    "text",
    ").split(",
)


# ---- small utilities -----------------------------------------------------------


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((_load.HOST, 0))
        return s.getsockname()[1]


def proc_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, from /proc/*/task/*/children."""
    out, i = [pid], 0
    while i < len(out):
        p = out[i]
        i += 1
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as fh:
                    out.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process tree (all threads), in seconds."""
    total = 0
    for p in proc_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / CLK_TCK


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (utime + stime) of each thread of ``pid``, by thread id."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as fh:
                fields = fh.read().rpartition(")")[2].split()
            out[int(tid)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def machine_cpu() -> float:
    """Busy CPU-seconds of the whole machine (all cores), from /proc/stat."""
    with open("/proc/stat") as fh:
        fields = [int(v) for v in fh.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def rss_kb(pid: int) -> int:
    total = 0
    for p in proc_tree(pid):
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(q * len(values)) - 1))]


def raise_nofile(need: int) -> str:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(need, soft)
    try:
        if want > hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
        else:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:
        return f"could not raise RLIMIT_NOFILE ({soft}/{hard}): {exc}"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return f"RLIMIT_NOFILE {soft}/{hard} (inherited by the relays)"


# ---- the data set --------------------------------------------------------------


class Dataset:
    """N signed events from 200 authors over 50 topics, and M REQs of four shapes."""

    N_AUTHORS = 200
    N_TOPICS = 50

    def __init__(self, n_events: int, n_reqs: int, seed: int) -> None:
        rng = random.Random(seed)
        self.authors = [
            keys.SecretKey(hashlib.sha256(b"shieldmutual-bench-author-%d" % i).digest())
            for i in range(self.N_AUTHORS)
        ]
        pubkeys = [a.public_hex for a in self.authors]
        now = int(time.time())
        t0 = time.perf_counter()
        events: list[nostr_event.Event] = []
        for i in range(n_events):
            author = rng.choice(self.authors)
            created = now - n_events + i
            if events and rng.random() < 0.15:
                target = rng.choice(events[-500:])
                kind, content = 7, "+"
                tags = [["e", target.id], ["p", target.pubkey]]
            else:
                kind = 1
                content = " ".join(rng.choices(WORDS, k=rng.randint(5, 30)))
                tags = [["t", f"topic{rng.randrange(self.N_TOPICS):02d}"]]
                if rng.random() < 0.3:
                    tags.append(["p", rng.choice(pubkeys)])
            events.append(nostr_event.sign(author, kind, content, tags, created))
        self.sign_seconds = time.perf_counter() - t0
        self.events = events
        self.frames = [_load.frame(b'["EVENT",' + e.to_json() + b"]") for e in events]
        ids = [e.id for e in events]
        self.reqs: list[tuple[int, dict[str, Any]]] = []
        for i in range(n_reqs):
            shape = i % 4
            if shape == 0:
                flt: dict[str, Any] = {"kinds": [1], "limit": 50}
            elif shape == 1:
                flt = {"authors": [rng.choice(pubkeys)], "limit": 20}
            elif shape == 2:
                flt = {"#t": [f"topic{rng.randrange(self.N_TOPICS):02d}"], "limit": 50}
            else:
                flt = {"ids": rng.sample(ids, min(5, len(ids)))}
            self.reqs.append((shape, flt))


SHAPES = ("kinds:[1] limit 50", "authors:[1] limit 20", "#t:[1] limit 50", "ids:[5]")


# ---- relays as subprocesses ----------------------------------------------------

NOSTR_RELAY_CONFIG = """\
# Written by bench/relay.py. Fairness: no rate limits (no rate_limits key, so the
# NullRateLimiter), authentication and NIP-05 verification off, logging at WARNING (the
# default logs one INFO line per stored event). The default validators are kept: size,
# signature, recency, hellthread, as our relay checks the same things.
DEBUG: false
storage:
  sqlalchemy.url: sqlite+aiosqlite:///{db}
  num_concurrent_reqs: 10
  num_concurrent_adds: 2
  validators:
    - nostr_relay.validators.is_not_too_large
    - nostr_relay.validators.is_signed
    - nostr_relay.validators.is_recent
    - nostr_relay.validators.is_not_hellthread
gunicorn:
  bind: {host}:{port}
  workers: 1
  loglevel: warning
authentication:
  enabled: false
verification:
  nip05_verification: disabled
message_timeout: 1800
subscription_limit: 32
max_limit: 6000
logging:
  version: 1
  root: {{level: WARNING}}
  loggers:
    nostr_relay: {{level: WARNING}}
"""


MAS_RELAY_CONFIG = """\
# Written by bench/relay.py. Fairness: the per-connection rate limits are off (nostr-relay
# runs without any); everything else is mas-relay's default.
[rate_limits]
events_per_second = 0
reqs_per_second = 0

[server]
log_level = "WARNING"
{uvloop}"""


# strfry (issue 15): the same fairness as above. NIP-42 off (neither other relay asks the
# bench to authenticate); nofiles = 0, as its default asks the kernel for more open files
# than this machine allows and it exits (the bench raises RLIMIT_NOFILE itself, inherited);
# strfry has no rate limits to turn off. Log level via --verbosity; the rest is its default.
STRFRY_CONFIG = """\
# Written by bench/relay.py.
db = "{db}/"
relay {{
    bind = "{host}"
    port = {port}
    nofiles = 0
    auth {{
        enabled = false
    }}
}}
"""


def strfry_config(workdir: Path, port: int) -> Path:
    """A strfry config and an empty LMDB folder in ``workdir``; the config's path."""
    db = workdir / "strfry-db"
    db.mkdir(exist_ok=True)
    cfg = workdir / "strfry.conf"
    cfg.write_text(STRFRY_CONFIG.format(db=db, host=_load.HOST, port=port))
    return cfg


class Relay:
    def __init__(
        self,
        name: str,
        exe: str,
        config: str | None = None,
        uvloop: bool = False,
        pythonpath: str | None = None,
    ) -> None:
        self.name = name
        self.exe = exe
        self.config = config
        self.uvloop = uvloop
        # another copy of mas-relay's code (``--before DIR``): before/after in one run
        self.pythonpath = pythonpath
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.tmp: tempfile.TemporaryDirectory[str] | None = None

    def argv(self, workdir: Path) -> list[str]:
        if self.name.startswith("ours"):
            argv = [self.exe, "--host", _load.HOST, "--port", str(self.port)]
            argv += ["--db", str(workdir / "relay.db")]
            config = self.config
            if config is None:
                config = str(workdir / "mas-relay.toml")
                # uvloop forced on by --ours-uvloop, else the relay's own default
                forced = "uvloop = true\n" if self.uvloop else ""
                Path(config).write_text(MAS_RELAY_CONFIG.format(uvloop=forced))
            return [*argv, "--config", config]
        if self.name == "strfry":
            cfg = strfry_config(workdir, self.port)
            return [self.exe, f"--config={cfg}", "--verbosity=WARNING", "relay"]
        cfg = workdir / "nostr-relay.yaml"
        cfg.write_text(
            NOSTR_RELAY_CONFIG.format(db=workdir / "nostr.sqlite3", host=_load.HOST, port=self.port)
        )
        # --use-uvicorn: the same falcon + uvicorn stack the default gunicorn (1 worker) runs,
        # in one process, so RSS and CPU are one process's.
        return [self.exe, "-c", str(cfg), "serve", "--use-uvicorn"]

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, timeout: float = 60.0) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix=f"bench-{self.name}-")
        workdir = Path(self.tmp.name)
        self.port = free_port()
        self.log_path = workdir / "relay.log"
        env = None
        if self.pythonpath:
            env = {**os.environ, "PYTHONPATH": self.pythonpath}
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                self.argv(workdir),
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:  # readiness: poll a websocket handshake, never a fixed sleep
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.log_tail()}")
            try:
                ws = await _load.connect(self.port, _load.WsClient, timeout=2.0)
                ws.close()
                return
            except (OSError, TimeoutError, ConnectionError):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.name} not ready in {timeout}s:\n{self.log_tail()}"
                    ) from None
                await asyncio.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # our own session: the relay + children
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
            except ProcessLookupError:
                pass
        self.proc = None
        if self.tmp is not None:
            self.tmp.cleanup()
            self.tmp = None


PROFILE_RATE = 200  # py-spy samples per second


class Profiler:
    """``py-spy record`` attached to a relay for one scenario: raw (collapsed) stacks,
    one root frame per thread, non-blocking so the relay is never paused."""

    def __init__(self, exe: str, out: Path, pid: int) -> None:
        self.out = out
        argv = [exe, "record", "--pid", str(pid), "--rate", str(PROFILE_RATE), "--threads"]
        argv += ["--nonblocking", "--format", "raw", "--output", str(out)]
        with open(out.with_suffix(".log"), "wb") as err:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
            )
        self.pid = pid
        self.cpu0 = thread_cpu(pid)
        self.started = time.perf_counter()

    def stop(self) -> None:
        seconds = time.perf_counter() - self.started
        cpu = {t: c - self.cpu0.get(t, 0.0) for t, c in thread_cpu(self.pid).items()}
        meta = {"seconds": seconds, "thread_cpu_s": cpu}
        self.out.with_suffix(".json").write_text(json.dumps(meta))
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _thread_name(root: str) -> str:
    """``thread (123): verify_0`` -> ``verify``; pools collapse into one name."""
    name = root.partition("): ")[2] or root
    return re.sub(r"^Thread-\d+ ", "Thread ", re.sub(r"_\d+$", "", name))


def parts_tid(stack: str) -> int | None:
    """The thread id py-spy --threads puts first: ``thread (1234): MainThread;...``."""
    if not stack.startswith("thread ("):
        return None
    head = stack[len("thread (") : stack.find(")")]
    return int(head) if head.isdigit() else None


def summarize_profile(path: Path, top: int = 12) -> str:
    """Per thread: share of a core and hottest functions, from py-spy's collapsed stacks."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"  (no profile: {exc})"
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        meta = {}
    seconds = meta.get("seconds", float("nan"))
    tid_cpu = {int(t): c for t, c in meta.get("thread_cpu_s", {}).items()}
    cpu_by_thread: Counter[str] = Counter()
    seen_tids: set[int] = set()
    per_thread: Counter[str] = Counter()
    self_t: dict[str, Counter[str]] = {}
    incl: dict[str, Counter[str]] = {}
    own: set[str] = set()
    total = 0
    for line in text.splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        total += count
        parts = stack.split(";")
        thread = _thread_name(parts[0]) if parts[0].startswith("thread (") else "all"
        parts = parts[1:] if thread != "all" else parts
        tid = parts_tid(stack)
        if tid is not None and tid not in seen_tids:
            seen_tids.add(tid)
            cpu_by_thread[thread] += tid_cpu.get(tid, 0.0)
        per_thread[thread] += count
        frames = []
        for fr in parts:
            name, _, loc = fr.partition(" (")
            file = loc.rstrip(")").rsplit(":", 1)[0]
            frames.append(label := f"{name} ({_short(file)})")
            if any(m in file for m in _OWN) and "asyncio/" not in file:
                own.add(label)
        if frames:
            self_t.setdefault(thread, Counter())[frames[-1]] += count
        incl_t = incl.setdefault(thread, Counter())
        for fr in set(frames):
            incl_t[fr] += count
    if not total:
        return "  (no samples)"
    cap = PROFILE_RATE * seconds
    out = [
        f"  {total} non-idle samples at {PROFILE_RATE} Hz over {seconds:.1f} s (py-spy). "
        "CPU: utime+stime from /proc per thread; non-idle: py-spy samples / (rate x s), "
        "which also counts I/O waits (fsync); function % = share of all samples"
    ]
    for thread, c in per_thread.most_common():
        cpu = 100 * cpu_by_thread.get(thread, float("nan")) / seconds
        out.append(
            f"  thread {thread:<36} CPU {cpu:5.1f}% of a core, non-idle {100 * c / cap:5.1f}%"
        )
    for thread, _ in per_thread.most_common(3):
        out.append(f"  -- {thread}: self time")
        out += [f"  {100 * c / total:5.1f}  {f}" for f, c in self_t[thread].most_common(top)]
        mine = [(f, c) for f, c in incl[thread].most_common() if f in own]
        if mine:
            out.append(f"  -- {thread}: inclusive, the relay's own code")
            out += [f"  {100 * c / total:5.1f}  {f}" for f, c in mine[:top]]
    return "\n".join(out)


_OWN = ("shieldmutual", "/work/main/", "relay/", "shared/", "nostr_relay")


def _short(file: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


# ---- scenario 1: ingest --------------------------------------------------------


class Pipeliner(_load.WsClient):
    def __init__(self, frames: list[bytes], window: int) -> None:
        super().__init__()
        self.frames = frames
        self.window = window
        self.next = -1  # -1 until start(): after_data also runs after the handshake
        self.acked = 0
        self.accepted = 0
        self.rejections: Counter[str] = Counter()
        self.finished = 0.0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def start(self) -> None:
        self.next = min(self.window, len(self.frames))
        self.send_frames(self.frames[: self.next])

    def handle(self, payload: bytes) -> None:
        if payload.startswith(b'["OK"'):
            msg = orjson.loads(payload)
            self.acked += 1
            if msg[2] is True:
                self.accepted += 1
            else:
                self.rejections[str(msg[3])[:60]] += 1
        elif not payload.startswith(b'["AUTH"'):  # a NIP-42 challenge is not a problem
            self.rejections[payload[:60].decode("utf-8", "replace")] += 1

    def after_data(self) -> None:
        if self.next < 0:
            return
        room = self.window - (self.next - self.acked)
        if room > 0 and self.next < len(self.frames):
            end = min(len(self.frames), self.next + room)
            self.send_frames(self.frames[self.next : end])
            self.next = end
        if self.acked >= len(self.frames) and not self.done.done():
            self.finished = time.perf_counter()
            self.done.set_result(None)

    def lost(self) -> None:
        if not self.done.done():
            self.finished = time.perf_counter()
            self.done.set_result(None)


async def scenario_ingest(relay: Relay, data: Dataset, conns: int, window: int) -> dict[str, Any]:
    shares = [data.frames[i::conns] for i in range(conns)]
    clients = [await _load.connect(relay.port, lambda s=s: Pipeliner(s, window)) for s in shares]
    timeout = max(300.0, len(data.frames) / 50)
    cpu_r0, cpu_g0, cpu_m0 = cpu_seconds(relay.pid), time.process_time(), machine_cpu()
    t0 = time.perf_counter()
    for c in clients:
        c.start()
    await asyncio.wait([c.done for c in clients], timeout=timeout)
    t1 = max((c.finished or time.perf_counter()) for c in clients)
    cpu_r, cpu_g = cpu_seconds(relay.pid) - cpu_r0, time.process_time() - cpu_g0
    cpu_m = machine_cpu() - cpu_m0
    wall = t1 - t0
    for c in clients:
        c.close()
    acked = sum(c.acked for c in clients)
    rejections: Counter[str] = sum((c.rejections for c in clients), Counter())
    return {
        "events": len(data.frames),
        "acked": acked,
        "accepted": sum(c.accepted for c in clients),
        "rejections": dict(rejections.most_common(5)),
        "wall_s": wall,
        "events_per_s": acked / wall if wall else 0.0,
        "events_per_cpu_s": acked / cpu_r if cpu_r else float("nan"),
        "relay_cpu": cpu_r / wall,
        "machine_cpu": cpu_m / wall,
        "gen_cpu": cpu_g / wall,
        "gen_cpu_max": cpu_g / wall,
    }


# ---- scenario 2: query ---------------------------------------------------------


class Querier(_load.WsClient):
    """One REQ in flight; on EOSE, CLOSE it and send the next, in one write."""

    def __init__(self, reqs: list[tuple[int, bytes]]) -> None:
        super().__init__()
        self.reqs = reqs
        self.i = -1
        self.sub = b""
        self.sent = 0.0
        self.now = 0.0
        self.events = 0
        self.lat: list[float] = []
        self.per_shape: dict[int, list[int]] = {s: [] for s in range(len(SHAPES))}
        self.problems: Counter[str] = Counter()
        self.finished = 0.0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.now = time.perf_counter()
        super().data_received(data)

    def advance(self) -> None:
        out = []
        if self.i >= 0:
            out.append(_load.frame(b'["CLOSE","' + self.sub + b'"]'))
        self.i += 1
        if self.i >= len(self.reqs):
            self.finished = time.perf_counter()
            if out:
                self.send_frames(out)
            if not self.done.done():
                self.done.set_result(None)
            return
        self.sub = b"q%d" % self.i
        flt = self.reqs[self.i][1]
        out.append(_load.frame(b'["REQ","' + self.sub + b'",' + flt + b"]"))
        self.events = 0
        self.sent = time.perf_counter()
        self.send_frames(out)

    def handle(self, payload: bytes) -> None:
        if payload.startswith(b'["EVENT"'):
            self.events += 1
        elif payload.startswith((b'["EOSE"', b'["CLOSED"')):
            msg = orjson.loads(payload)
            if msg[1].encode() != self.sub:
                return
            if msg[0] == "CLOSED":
                self.problems[f"CLOSED {msg[2]}"[:80]] += 1
            self.lat.append(self.now - self.sent)
            self.per_shape[self.reqs[self.i][0]].append(self.events)
            self.advance()
        elif not payload.startswith(b'["AUTH"'):
            self.problems[payload[:80].decode("utf-8", "replace")] += 1

    def lost(self) -> None:
        if not self.done.done():
            self.finished = time.perf_counter()
            self.done.set_result(None)


async def scenario_query(relay: Relay, data: Dataset, conns: int) -> dict[str, Any]:
    encoded = [(shape, orjson.dumps(flt)) for shape, flt in data.reqs]
    shares = [encoded[i::conns] for i in range(conns)]
    clients = [await _load.connect(relay.port, lambda s=s: Querier(s)) for s in shares]
    cpu_r0, cpu_g0, cpu_m0 = cpu_seconds(relay.pid), time.process_time(), machine_cpu()
    t0 = time.perf_counter()
    for c in clients:
        c.advance()
    await asyncio.wait([c.done for c in clients], timeout=max(300.0, len(encoded) / 5))
    t1 = max((c.finished or time.perf_counter()) for c in clients)
    cpu_r, cpu_g = cpu_seconds(relay.pid) - cpu_r0, time.process_time() - cpu_g0
    cpu_m = machine_cpu() - cpu_m0
    wall = t1 - t0
    for c in clients:
        c.close()
    lat = sorted(x for c in clients for x in c.lat)
    per_shape = {
        SHAPES[s]: statistics.fmean(v)
        for s in range(len(SHAPES))
        if (v := [n for c in clients for n in c.per_shape[s]])
    }
    problems: Counter[str] = sum((c.problems for c in clients), Counter())
    return {
        "reqs": len(encoded),
        "completed": len(lat),
        "wall_s": wall,
        "reqs_per_s": len(lat) / wall if wall else 0.0,
        "reqs_per_cpu_s": len(lat) / cpu_r if cpu_r else float("nan"),
        "median_ms": 1000 * statistics.median(lat) if lat else float("nan"),
        "p99_ms": 1000 * pct(lat, 0.99),
        "events_per_shape": per_shape,
        "problems": dict(problems.most_common(5)),
        "relay_cpu": cpu_r / wall,
        "machine_cpu": cpu_m / wall,
        "gen_cpu": cpu_g / wall,
        "gen_cpu_max": cpu_g / wall,
    }


# ---- scenario 3: fan-out -------------------------------------------------------


class Publisher(_load.WsClient):
    def __init__(self) -> None:
        super().__init__()
        self.acked = 0
        self.accepted = 0
        self.rejections: Counter[str] = Counter()
        self.sent: dict[str, float] = {}
        self.ok_lat: list[float] = []
        self.now = 0.0

    def data_received(self, data: bytes) -> None:
        self.now = time.time()
        super().data_received(data)

    def handle(self, payload: bytes) -> None:
        if payload.startswith(b'["OK"'):
            msg = orjson.loads(payload)
            self.acked += 1
            self.accepted += msg[2] is True
            if msg[2] is not True:
                self.rejections[str(msg[3])[:60]] += 1
            sent = self.sent.pop(msg[1], None)
            if sent is not None:
                self.ok_lat.append(self.now - sent)


async def _recv(conn: Any, timeout: float) -> Any:
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, conn.poll, timeout):
        raise TimeoutError("worker did not answer")
    return conn.recv()


async def scenario_fanout(
    relay: Relay,
    data: Dataset,
    subs: int,
    procs: int,
    rate: float,
    seconds: float,
    uvloop: bool,
) -> dict[str, Any]:
    tag = f"bench-fanout-{os.getpid()}-{relay.port}"
    ctx = multiprocessing.get_context("spawn")
    workers = []
    first = 0
    for k in range(procs):
        count = subs // procs + (k < subs % procs)
        parent, child = ctx.Pipe()
        p = ctx.Process(
            target=_load.fanout_worker,
            args=(relay.port, first, count, tag, child, uvloop),
            daemon=True,
        )
        p.start()
        workers.append((p, parent))
        first += count
    try:
        ready = 0
        notes: list[str] = []
        for _, conn in workers:
            msg = await _recv(conn, 120)
            if msg[0] != "ready":
                raise RuntimeError(f"fan-out worker failed: {msg}")
            ready += msg[1]
            if msg[2]:
                notes.append(f"{msg[2]} subscribers failed to connect")
            notes += msg[3]
        pub = await _load.connect(relay.port, Publisher)
        author = data.authors[0]
        total = int(rate * seconds)
        for _, conn in workers:
            conn.send(("go",))
        cpu_r0, cpu_g0, cpu_m0 = cpu_seconds(relay.pid), time.process_time(), machine_cpu()
        t0 = time.perf_counter()
        for i in range(total):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.time()
            ev = nostr_event.sign(author, 1, f"bench-fanout {i} {now:.6f}", [["t", tag]])
            pub.sent[ev.id] = now
            pub.send(b'["EVENT",' + ev.to_json() + b"]")
        t_pub = time.perf_counter() - t0
        # Under 1,000 x 1,000 both relays answer OKs a minute late: wait for them, so a
        # late OK is counted as published rather than the relay's deliveries undercounted.
        deadline = time.monotonic() + 180
        while pub.acked < total and time.monotonic() < deadline and pub.is_open:
            await asyncio.sleep(0.02)
        for _, conn in workers:
            conn.send(("expect", pub.accepted, 5.0))
        lat_arr = array("d")
        seq_arr = array("l")
        per_sub: list[int] = []
        cpu_workers: list[float] = []
        for _, conn in workers:
            msg = await _recv(conn, 600)
            if msg[0] != "done":
                raise RuntimeError(f"fan-out worker failed: {msg}")
            lat_arr.frombytes(msg[1])
            seq_arr.frombytes(msg[2])
            per_sub += msg[3]
            cpu_workers.append(msg[4])
            notes += msg[5]
        wall = time.perf_counter() - t0
        cpu_r, cpu_g = cpu_seconds(relay.pid) - cpu_r0, time.process_time() - cpu_g0
        cpu_m = machine_cpu() - cpu_m0
        pub.close()
    finally:
        for p, _ in workers:
            p.join(10)
            if p.is_alive():
                p.terminate()
    lat = sorted(lat_arr)
    expected = pub.accepted * subs
    # Per event: the first and the last subscriber served. The first is the ingest path
    # (verify, commit, match); last - first is the relay's loop over 200 sockets.
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    for seq, x in zip(seq_arr, lat_arr, strict=True):
        if x < first.get(seq, math.inf):
            first[seq] = x
        if x > last.get(seq, -math.inf):
            last[seq] = x
    ok_lat = sorted(pub.ok_lat)
    return {
        "subs": subs,
        "subs_ready": ready,
        "published": total,
        "accepted": pub.accepted,
        "rejections": dict(pub.rejections.most_common(3)),
        "publish_rate": total / t_pub if t_pub else 0.0,
        "expected": expected,
        "delivered": len(lat),
        "min_per_sub": min(per_sub) if per_sub else 0,
        "median_ms": 1000 * statistics.median(lat) if lat else float("nan"),
        "p99_ms": 1000 * pct(lat, 0.99),
        "max_ms": 1000 * lat[-1] if lat else float("nan"),
        "ok_median_ms": 1000 * statistics.median(ok_lat) if ok_lat else float("nan"),
        "ok_p99_ms": 1000 * pct(ok_lat, 0.99),
        "first_median_ms": 1000 * statistics.median(first.values()) if first else float("nan"),
        "last_median_ms": 1000 * statistics.median(last.values()) if last else float("nan"),
        "last_p99_ms": 1000 * pct(sorted(last.values()), 0.99),
        "wall_s": wall,
        "relay_cpu": cpu_r / wall,
        "relay_us_per_delivery": 1e6 * cpu_r / len(lat) if lat else float("nan"),
        "machine_cpu": cpu_m / wall,
        "gen_cpu": (cpu_g + sum(cpu_workers)) / wall,
        "gen_cpu_max": max([cpu_g, *cpu_workers]) / wall,
        "gen_procs": 1 + len(cpu_workers),
        "notes": notes[:5],
    }


# ---- scenario 4: idle connections ----------------------------------------------


async def scenario_connections(relay: Relay, count: int) -> dict[str, Any]:
    warm = await _load.connect_many(relay.port, [_load.WsClient] * 10)
    for w in warm:
        if isinstance(w, _load.WsClient):
            w.close()
    await asyncio.sleep(0.5)  # let the relay drop the warm-up connections
    before = rss_kb(relay.pid)
    t0 = time.perf_counter()
    clients = await _load.connect_many(relay.port, [_load.WsClient] * count, parallel=100)
    open_s = time.perf_counter() - t0
    await asyncio.sleep(1.0)  # settle: every handler has run its first await
    after = rss_kb(relay.pid)
    alive = [c for c in clients if isinstance(c, _load.WsClient) and c.is_open]
    errors = Counter(type(c).__name__ for c in clients if not isinstance(c, _load.WsClient))
    for c in alive:
        c.close()
    return {
        "requested": count,
        "open": len(alive),
        "errors": dict(errors),
        "open_s": open_s,
        "rss_before_kb": before,
        "rss_after_kb": after,
        "kb_per_conn": (after - before) / len(alive) if alive else float("nan"),
    }


# ---- running and reporting -----------------------------------------------------


async def bench_relay(relay: Relay, data: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    res: dict[str, Any] = {}
    wanted = set(args.scenarios)
    prof = None

    def profile(scn: str) -> Profiler | None:
        if not args.profile or relay.name not in args.profile_relays:
            return None
        return Profiler(args.py_spy, Path(args.profile) / f"{relay.name}-{scn}.txt", relay.pid)

    async def run(scn: str, coro: Any) -> None:
        nonlocal prof
        prof = profile(scn)
        load = os.getloadavg()[0]
        log(f"{relay.name}: {scn} ... (1-min load average {load:.2f})")
        try:
            res[scn] = await coro
            res[scn]["loadavg"] = load
        except Exception as exc:
            res[scn] = {"error": repr(exc)}
            log(f"{relay.name}: {scn} failed: {exc!r}\n{relay.log_tail()}")
        finally:
            if prof:
                prof.stop()
        log(f"{relay.name}: {scn} {_brief(res[scn])}")

    if wanted & {"ingest", "query", "fanout"}:
        await relay.start()
        log(f"{relay.name}: ready on ws://{_load.HOST}:{relay.port} (pid {relay.pid})")
        try:
            if wanted & {"ingest", "query"}:
                await run("ingest", scenario_ingest(relay, data, args.ingest_conns, args.window))
            if "query" in wanted:
                await run("query", scenario_query(relay, data, args.query_conns))
            if "fanout" in wanted:
                fan = scenario_fanout(
                    relay, data, args.subs, args.procs, args.rate, args.seconds, args.uvloop
                )
                await run("fanout", fan)
        finally:
            relay.stop()
    if "connections" in wanted:
        await relay.start()
        try:
            await run("connections", scenario_connections(relay, args.conns))
        finally:
            relay.stop()
    return res


def _brief(r: dict[str, Any]) -> str:
    keys_ = ("events_per_s", "reqs_per_s", "median_ms", "p99_ms", "kb_per_conn", "error")
    return " ".join(
        f"{k}={r[k]:.1f}" if isinstance(r[k], float) else f"{k}={r[k]}" for k in keys_ if k in r
    )


def fnum(v: Any, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:,.{digits}f}"


def ratio(a: Any, b: Any) -> str:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or not b or a != a:
        return "-"
    r = a / b
    return f"{r:.2f}x" if r >= 0.1 else f"{r:.2g}x"


def verdict(v: Any, ok: Any) -> str:
    if not isinstance(v, int | float) or v != v:
        return "-"
    return "PASS" if ok(v) else "MISS"


def saturation(r: dict[str, Any], ncpu: int) -> str:
    """Who is the bottleneck, from CPU seconds over the scenario's wall time."""
    relay, gen, gen_max = r.get("relay_cpu", 0.0), r.get("gen_cpu", 0.0), r.get("gen_cpu_max", 0.0)
    procs = r.get("gen_procs", 1)
    other = max(0.0, r.get("machine_cpu", relay + gen) - relay - gen)
    text = (
        f"relay {100 * relay:.0f}% of a core; load generator {100 * gen:.0f}% in {procs} "
        f"process(es), busiest {100 * gen_max:.0f}%; bench {100 * (relay + gen) / ncpu:.0f}% "
        f"of {ncpu} cores; other processes {100 * other:.0f}% of a core; "
        f"load average {r.get('loadavg', float('nan')):.2f} before"
    )
    if relay >= 0.85:
        return text + " -> the relay saturates (CPU-bound)"
    if gen_max >= 0.85:
        return text + " -> the load generator saturates"
    if relay + gen + other >= 0.9 * ncpu:
        return text + " -> the machine's cores are all busy"
    return text + " -> neither side is CPU-bound (latency, I/O or pacing)"


def ratio_pair(names: list[str]) -> tuple[str, str] | None:
    """Which two relays the ratio column compares: ours against strfry when both ran (the
    issue-15 targets are ratios to strfry), else ours against the only other one."""
    if "ours" in names and "strfry" in names:
        return ("ours", "strfry")
    if len(names) == 2 and "ours" in names:
        return ("ours", names[1 - names.index("ours")])
    return None


def table(title: str, rows: list[list[str]], names: list[str]) -> str:
    head = ["metric", *names]
    if ratio_pair(names):
        head.append("ours/" + ratio_pair(names)[1])
    head += ["strfry", "target", "ours vs target"]
    width = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(width))
    lines = [title, fmt.format(*head), fmt.format(*("-" * w for w in width))]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(lines)


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    names = list(results)

    def get(scn: str, key: str) -> list[Any]:
        return [results[n].get(scn, {}).get(key) for n in names]

    def row(
        label: str, scn: str, key: str, digits: int, ref: str, target: str = "", ok: Any = None
    ) -> list[str]:
        vals = get(scn, key)
        cells = [label, *(fnum(v, digits) for v in vals)]
        pair = ratio_pair(names)
        if pair:
            cells.append(ratio(*(vals[names.index(n)] for n in pair)))
        ours = results.get("ours", {}).get(scn, {}).get(key)
        cells += [ref, target, verdict(ours, ok) if ok and "ours" in results else "-"]
        return cells

    def raw(label: str, vals: list[str]) -> list[str]:
        return [label, *vals] + (["-"] if ratio_pair(names) else []) + ["", "", ""]

    out = []
    blank = ["-"] * len(names)
    if "ingest" in args.scenarios or "query" in args.scenarios:
        rows = [
            row(
                "events/s",
                "ingest",
                "events_per_s",
                0,
                STRFRY["ingest"],
                ">= 6,000",
                lambda v: v >= 6000,
            ),
            raw(
                "OK true / sent",
                [
                    f"{r['accepted']}/{r['events']}"
                    if "accepted" in r
                    else r.get("error", "-")[:40]
                    for r in (results[n].get("ingest", {}) for n in names)
                ]
                or blank,
            ),
            row("events per relay CPU-s", "ingest", "events_per_cpu_s", 0, ""),
            row("elapsed s", "ingest", "wall_s", 2, ""),
        ]
        out.append(
            table(
                f"1. ingest: {args.events:,} signed events, {args.ingest_conns} connections, "
                f"window {args.window}",
                rows,
                names,
            )
        )
        out += _cpu_notes("ingest", results)
    if "query" in args.scenarios:
        rows = [
            row("REQs/s", "query", "reqs_per_s", 0, STRFRY["reqs"]),
            row("REQs per relay CPU-s", "query", "reqs_per_cpu_s", 0, ""),
            row(
                "median ms to EOSE",
                "query",
                "median_ms",
                1,
                STRFRY["eose_median"],
                "<= 16",
                lambda v: v <= 16,
            ),
            row("p99 ms to EOSE", "query", "p99_ms", 1, ""),
            raw("completed", [fnum(v) for v in get("query", "completed")]),
        ]
        for shape in SHAPES:
            vals = [
                (results[n].get("query", {}).get("events_per_shape") or {}).get(shape)
                for n in names
            ]
            rows.append(raw(f"  events/REQ {shape}", [fnum(v, 1) for v in vals]))
        out.append(
            table(
                f"2. query: {args.reqs:,} REQs on the {args.events:,}-event store, "
                f"{args.query_conns} connections, 1 in flight each",
                rows,
                names,
            )
        )
        out += _cpu_notes("query", results)
    if "fanout" in args.scenarios:
        rows = [
            row("median ms live", "fanout", "median_ms", 1, STRFRY["live_median"]),
            row(
                "p99 ms live", "fanout", "p99_ms", 1, STRFRY["live_p99"], "< 100", lambda v: v < 100
            ),
            row("max ms live", "fanout", "max_ms", 1, ""),
            row("  median ms to OK (publisher)", "fanout", "ok_median_ms", 1, ""),
            row("  p99 ms to OK (publisher)", "fanout", "ok_p99_ms", 1, ""),
            row("  median ms, first subscriber", "fanout", "first_median_ms", 1, ""),
            row("  median ms, last subscriber", "fanout", "last_median_ms", 1, ""),
            row("  p99 ms, last subscriber", "fanout", "last_p99_ms", 1, ""),
            raw(
                "delivered / expected",
                [
                    f"{r.get('delivered', '-')}/{r.get('expected', '-')}"
                    for r in (results[n].get("fanout", {}) for n in names)
                ],
            ),
            row("publish rate ev/s", "fanout", "publish_rate", 1, "200"),
            row("relay CPU us per delivery", "fanout", "relay_us_per_delivery", 1, ""),
        ]
        out.append(
            table(
                f"3. fan-out: {args.subs} subscribers (kind 1 + #t) over {args.procs} processes, "
                f"{args.rate:g} events/s for {args.seconds:g} s",
                rows,
                names,
            )
        )
        out += _cpu_notes("fanout", results)
    if "connections" in args.scenarios:
        rows = [
            row(
                "KB per connection",
                "connections",
                "kb_per_conn",
                1,
                STRFRY["conn_kb"],
                "< 80",
                lambda v: v < 80,
            ),
            raw(
                "open / requested",
                [
                    f"{r.get('open', '-')}/{r.get('requested', '-')}"
                    for r in (results[n].get("connections", {}) for n in names)
                ],
            ),
            row("RSS before MB", "connections", "rss_before_kb", 0, ""),
            row("RSS after MB", "connections", "rss_after_kb", 0, ""),
            row("seconds to open all", "connections", "open_s", 2, ""),
        ]
        for r in rows[2:4]:  # KB -> MB for display
            for i in range(1, 1 + len(names)):
                r[i] = fnum(float(r[i].replace(",", "")) / 1024, 1) if r[i] != "-" else r[i]
        out.append(
            table(f"4. connections: {args.conns:,} idle websockets, relay RSS (VmRSS)", rows, names)
        )
    for name in names:
        for scn, r in results[name].items():
            extra = {
                k: r[k] for k in ("error", "rejections", "problems", "notes", "errors") if r.get(k)
            }
            if extra:
                out.append(f"  note {name}/{scn}: {json.dumps(extra)[:400]}")
    return "\n\n".join(out)


def _cpu_notes(scn: str, results: dict[str, dict[str, Any]]) -> list[str]:
    ncpu = os.cpu_count() or 1
    lines = [
        f"  {name}: {saturation(results[name][scn], ncpu)}"
        for name in results
        if "relay_cpu" in results[name].get(scn, {})
    ]
    return ["\n".join(lines)] if lines else []


def find_exe(given: str | None, default: Path | None, name: str) -> str | None:
    if given:
        return given if Path(given).exists() else None
    if default and default.exists():
        return str(default)
    sibling = Path(sys.executable).with_name(name)
    if sibling.exists():
        return str(sibling)
    return shutil.which(name)


def mas_relay_exe(given: str | None) -> str | None:
    """The mas-relay to run (``--mas-relay``, else next to this python); None, said, if none."""
    exe = find_exe(given, None, "mas-relay")
    if not exe:
        print("mas-relay not found (pass --mas-relay PATH)")
    return exe


def script_parser(doc: str | None) -> argparse.ArgumentParser:
    """A bench script's command line: its docstring as the help, and ``--mas-relay``."""
    p = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--mas-relay", help="mas-relay executable (default: next to this python)")
    return p


def run_script(
    parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], Coroutine[Any, Any, int]]
) -> int:
    """A bench script's main: parse its command line, say what source is measured, run."""
    args = parser.parse_args()
    print(f"source: {git_describe()}")
    return int(_load.run(run(args)))


def git_describe() -> str:
    """The commit the benchmarked code comes from, and whether the tree differs from it."""
    repo = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "log", "-1", "--format=%h %cs"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "relay", "shared"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"
    return f"git {head}" + (" + uncommitted changes in relay/ or shared/" if dirty else "")


def runs_help(exe: str) -> str:
    """'' when ``exe --help`` works, else why not (the relay may not be installed yet)."""
    try:
        done = subprocess.run([exe, "--help"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return repr(exc)
    if done.returncode:
        return (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()[-1]
    return ""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--quick", action="store_true", help="smoke run: small N everywhere")
    p.add_argument(
        "--relays", default="ours,nostr-relay", help="comma list: ours, strfry, nostr-relay"
    )
    p.add_argument("--strfry", help="strfry executable, built from upstream outside the repo")
    p.add_argument(
        "--mas-relay-config", help="--config FILE for mas-relay (default: rate limits off)"
    )
    p.add_argument("--ours-uvloop", action="store_true", help="run mas-relay with uvloop = true")
    p.add_argument(
        "--before",
        metavar="DIR",
        help="also run mas-relay as 'ours-before' with PYTHONPATH=DIR (a copy of an older "
        "commit laid out as DIR/shieldmutual/{shared,relay,client}): before/after in one run",
    )
    p.add_argument("--nostr-relay", help=f"nostr-relay executable (default {DEFAULT_NOSTR_RELAY})")
    p.add_argument("--scenarios", default="ingest,query,fanout,connections")
    p.add_argument("--events", type=int, help="ingest N (default 20000; quick 2000)")
    p.add_argument("--ingest-conns", type=int, default=4)
    p.add_argument("--window", type=int, default=500, help="outstanding EVENTs per connection")
    p.add_argument("--reqs", type=int, help="query M (default 2000; quick 200)")
    p.add_argument("--query-conns", type=int, default=8)
    p.add_argument("--subs", type=int, help="fan-out subscribers (default 200; quick 50)")
    p.add_argument("--procs", type=int, default=2, help="subscriber worker processes")
    p.add_argument("--rate", type=float, default=200.0, help="fan-out events/s")
    p.add_argument("--seconds", type=float, help="fan-out duration (default 10; quick 2)")
    p.add_argument("--conns", type=int, help="idle connections (default 2000; quick 200)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-uvloop", dest="uvloop", action="store_false", help="plain asyncio loop")
    p.add_argument("--profile", metavar="DIR", help="py-spy record each scenario into DIR")
    p.add_argument("--profile-relays", default="ours", help="which relays to profile")
    p.add_argument("--py-spy", help="py-spy executable (default: next to this python)")
    p.add_argument("--json", metavar="FILE", help="also write the raw results as JSON")
    a = p.parse_args(argv)
    q = a.quick
    a.events = a.events or (2000 if q else 20000)
    a.reqs = a.reqs or (200 if q else 2000)
    a.subs = a.subs or (50 if q else 200)
    a.seconds = a.seconds or (2.0 if q else 10.0)
    a.conns = a.conns or (200 if q else 2000)
    a.scenarios = [s.strip() for s in a.scenarios.split(",") if s.strip()]
    a.relays = [s.strip() for s in a.relays.split(",") if s.strip()]
    a.profile_relays = [s.strip() for s in a.profile_relays.split(",")]
    return a


async def amain(args: argparse.Namespace) -> int:
    print("Shield Mutual relay benchmark")
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(f"source: {git_describe()}; 1-min load average {os.getloadavg()[0]:.2f} at start")
    print(raise_nofile(2 * args.conns + 1000))
    relays: list[Relay] = []
    for name in args.relays:
        if name == "ours":
            exe = find_exe(args.mas_relay, None, "mas-relay")
            broken = exe and runs_help(exe)
            if broken:
                print(f"ours: {exe} --help failed ({broken}); skipped")
            elif exe:
                relays.append(Relay("ours", exe, args.mas_relay_config, args.ours_uvloop))
                how = (
                    f"--config {args.mas_relay_config}"
                    if args.mas_relay_config
                    else f"rate limits off, uvloop {'on' if args.ours_uvloop else 'default'}, "
                    "log level WARNING, other settings default"
                )
                print(f"ours: {exe} ({how})")
                if args.before:
                    relays.append(
                        Relay(
                            "ours-before",
                            exe,
                            args.mas_relay_config,
                            args.ours_uvloop,
                            pythonpath=args.before,
                        )
                    )
                    print(f"ours-before: the same, with PYTHONPATH={args.before}")
            else:
                print("ours: mas-relay not found (pass --mas-relay PATH); skipped")
        elif name == "strfry":
            exe = find_exe(args.strfry, None, "strfry")
            if exe:
                relays.append(Relay("strfry", exe))
                print(f"strfry: {exe} relay (NIP-42 off, nofiles = 0, other settings default)")
            else:
                print("strfry: not found (pass --strfry PATH); skipped")
        elif name == "nostr-relay":
            exe = find_exe(args.nostr_relay, DEFAULT_NOSTR_RELAY, "nostr-relay")
            if exe:
                relays.append(Relay("nostr-relay", exe))
                print(
                    f"nostr-relay: {exe} serve --use-uvicorn (no rate limits, auth off, "
                    "NIP-05 off, log level WARNING, default validators)"
                )
            else:
                print(
                    "nostr-relay: not found (pip install nostr-relay into its own venv, "
                    f"e.g. {DEFAULT_NOSTR_RELAY.parent.parent}, or pass --nostr-relay); skipped"
                )
        else:
            print(f"unknown relay {name!r}; skipped")
    if not relays:
        print("no relay to benchmark")
        return 1
    if args.profile:
        args.py_spy = find_exe(args.py_spy, None, "py-spy")
        if not args.py_spy:
            print("py-spy not found: profiling off")
            args.profile = None
        else:
            Path(args.profile).mkdir(parents=True, exist_ok=True)
            print(
                f"profiling {','.join(args.profile_relays)} with {args.py_spy} into {args.profile} "
                "(figures are taken with the profiler attached)"
            )
    data = Dataset(args.events, args.reqs, args.seed)
    print(
        f"data: {len(data.events):,} events signed in {data.sign_seconds:.1f} s (untimed), "
        f"{len(data.reqs):,} REQs; websockets without compression; "
        f"load generator loop: {_load.loop_name(args.uvloop)}"
    )
    results: dict[str, dict[str, Any]] = {}
    for relay in relays:
        try:
            results[relay.name] = await bench_relay(relay, data, args)
        except Exception as exc:
            log(f"{relay.name}: failed: {exc!r}")
            results[relay.name] = {}
        finally:
            relay.stop()
    print()
    print(report(results, args))
    if args.profile:
        for relay in relays:
            if relay.name not in args.profile_relays:
                continue
            for scn in results.get(relay.name, {}):
                path = Path(args.profile) / f"{relay.name}-{scn}.txt"
                print(f"\nprofile {relay.name} / {scn}: {path}")
                print(summarize_profile(path))
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    return 0


def main() -> int:
    args = parse_args()
    return _load.run(amain(args), args.uvloop)


if __name__ == "__main__":
    sys.exit(main())
