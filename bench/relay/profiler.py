"""``--profile DIR``: py-spy attached to a relay for each scenario, and a summary of its
collapsed stacks (per thread: share of a core, hottest functions, the relay's own code)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from bench.relay.procfs import thread_cpu

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


# Where the relays' own code lives: this checkout (an editable install), or an installed
# shieldmutual or nostr_relay.
ROOT = f"{Path(__file__).resolve().parents[2]}/"
_OWN = ("shieldmutual", ROOT, "relay/", "shared/", "nostr_relay")


def _short(file: str) -> str:
    for marker in ("site-packages/", ROOT, "lib/python3.11/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file
