"""The relay benchmark's tables: one per scenario, a column per relay, the ratio of ours
to strfry (or to the only other relay), strfry's reference and the target, and who held
the CPU. docs/PERFORMANCE.md quotes this output: keep its format."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from bench.relay.dataset import SHAPES

# strfry on this 2-core machine, and the targets our relay is held to.
STRFRY = {
    "ingest": "6,300 ev/s",
    "reqs": "850 REQ/s",
    "eose_median": "16 ms",
    "live_median": "50 ms",
    "live_p99": "110 ms",
    "conn_kb": "~80 KB",
}


def brief(r: dict[str, Any]) -> str:
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
        out += cpu_notes("ingest", results)
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
        out += cpu_notes("query", results)
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
        out += cpu_notes("fanout", results)
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


def cpu_notes(scn: str, results: dict[str, dict[str, Any]]) -> list[str]:
    ncpu = os.cpu_count() or 1
    lines = [
        f"  {name}: {saturation(results[name][scn], ncpu)}"
        for name in results
        if "relay_cpu" in results[name].get(scn, {})
    ]
    return ["\n".join(lines)] if lines else []
