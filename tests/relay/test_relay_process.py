"""The real ``mas-relay`` console script as a subprocess: flags, ready line, SIGTERM."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import RelayProcess
from shieldmutual.shared.event import sign

EXE = str(Path(sys.executable).parent / "mas-relay")
NO_RATES = """\
[rate_limits]
events_per_second = 0
reqs_per_second = 0
"""


def stored_ids(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0].hex() for row in conn.execute("SELECT id FROM events")}


def test_help_works():
    result = subprocess.run([EXE, "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    for flag in ("--host", "--port", "--db", "--config"):
        assert flag in result.stdout


def test_a_bad_config_exits_2_with_a_one_line_message(tmp_path):
    config = tmp_path / "relay.toml"
    config.write_text("[limits]\nmax_subscriptons = 5\n")
    result = subprocess.run(
        [EXE, "--port", "0", "--db", str(tmp_path / "r.db"), "--config", str(config)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == "mas-relay: unknown setting [limits] max_subscriptons"


def test_a_taken_port_exits_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [EXE, "--port", str(port), "--db", str(tmp_path / "r.db")],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("mas-relay: cannot start:")


def test_default_store_is_in_the_platform_data_directory(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    relay = RelayProcess([EXE, "--port", "0"], env=env)
    try:
        relay.wait_ready()
        # The ready line ends the start-up block.
        line = next(line for line in relay.log if not line.startswith("  "))
        assert re.fullmatch(r"mas-relay ready on ws://127\.0\.0\.1:\d+\n", line), line
        assert (tmp_path / "data" / "shieldmutual" / "relay.db").is_file()
    finally:
        assert relay.terminate() == 0


async def test_sigterm_commits_every_acknowledged_event(relay_process, connect, keys, tmp_path):
    config = tmp_path / "relay.toml"
    config.write_text(NO_RATES)
    relay = relay_process("--config", str(config))
    assert re.fullmatch(r"ws://127\.0\.0\.1:\d+", relay.url) and not relay.url.endswith(":0")
    client = await connect(relay.url)
    now = int(time.time())
    events = [sign(keys.alice, 1, f"durable {i}", created_at=now) for i in range(600)]
    for event in events:
        await client.send("EVENT", event)
    answers: dict[str, list] = {}
    while len(answers) < 100:  # the relay is busy committing when the signal lands
        ok = await client.expect(lambda m: m[0] == "OK")
        answers[ok[1]] = ok
    relay.proc.send_signal(15)  # SIGTERM
    late = [sign(keys.bob, 1, f"late {i}", created_at=now) for i in range(200)]
    try:
        for event in late:  # some may arrive after the relay stopped taking events
            await client.send("EVENT", event)
    except Exception:
        pass
    try:
        while True:
            ok = await client.expect(lambda m: m[0] == "OK", timeout=20)
            answers[ok[1]] = ok
    except Exception as exc:  # the relay closed the connection (1001) once done
        assert "1001" in str(exc) or "ConnectionClosed" in type(exc).__name__, exc
    assert relay.proc.wait(timeout=20) == 0
    accepted = {event_id for event_id, ok in answers.items() if ok[2] is True}
    assert len(accepted) >= 100
    for ok in answers.values():
        if not ok[2]:
            assert ok[3] == "error: the relay is shutting down", ok
    assert accepted <= stored_ids(relay.db)
    assert "stopped cleanly" in "".join(relay.log)


async def test_no_ip_address_is_logged_even_at_debug(relay_process, connect, keys, tmp_path):
    config = tmp_path / "relay.toml"
    config.write_text('[server]\nlog_level = "DEBUG"\n')
    relay = relay_process("--config", str(config))
    client = await connect(relay.url)
    await client.auth(keys.alice, relay.url)
    await client.publish(sign(keys.alice, 1, "hello"))
    await client.send_raw("not json")
    await client.req("s", {"kinds": [1]})
    await client.close()
    assert relay.terminate() == 0
    # The start-up block names the relay's own address; what follows must name none.
    after_ready = "".join(relay.log).split(f"ready on {relay.url}", 1)[1]
    assert "DEBUG" in after_ready  # it did log at debug level
    assert "127.0.0.1" not in after_ready
    assert keys.alice.public_hex not in after_ready


def test_sigint_stops_cleanly_too(relay_process):
    relay = relay_process()
    relay.proc.send_signal(2)  # SIGINT, as Ctrl-C
    assert relay.proc.wait(timeout=20) == 0
