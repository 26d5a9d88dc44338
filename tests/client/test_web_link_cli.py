"""Request page links in the CLI: learnt from a real relay's NIP-11, or `mas config web-base`;
printed by `request new` and `relay-request`, embedded by `export`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from shieldmutual.client.pages import advertised

REQUEST_FLAGS = (
    "--title",
    "Boiler repair",
    "--summary",
    "Help needed.",
    "--story",
    "The boiler broke.",
    "--location",
    "Leeds",
    "--society",
    "north",
    "--yes",
)


def http_of(relay_url: str) -> str:
    return "http" + relay_url.removeprefix("ws")


@pytest.fixture
def sam(mas: Any) -> Any:
    made = mas("id", "new", "sam")
    assert made.code == 0, made.stderr
    return mas


def test_request_new_prints_the_page_its_relay_advertises(sam: Any, relay_process: Any) -> None:
    relay = relay_process()
    done = sam("request", "new", *REQUEST_FLAGS, "-r", relay.url, "--json")
    assert done.code == 0, done.stderr
    made = orjson.loads(done.stdout)
    assert made["page"] == f"{http_of(relay.url)}/r/{made['naddr']}"
    answer = httpx.get(made["page"], timeout=10)  # the link opens the request's page
    assert answer.status_code == 200 and b"Boiler repair" in answer.content
    done = sam("request", "new", *REQUEST_FLAGS, "-r", relay.url)
    assert done.code == 0 and done.stdout.count("\n") == 1  # stdout: the naddr alone
    assert f"page: {http_of(relay.url)}/r/{done.stdout.strip()}" in done.stderr


def test_no_page_from_a_relay_without_pages(sam: Any, relay_process: Any, tmp_path: Path) -> None:
    config = tmp_path / "relay.toml"
    config.write_text("[web]\nenabled = false\n")
    relay = relay_process("--config", str(config))
    done = sam("request", "new", *REQUEST_FLAGS, "-r", relay.url, "--json")
    assert done.code == 0 and orjson.loads(done.stdout)["page"] is None
    done = sam("request", "new", *REQUEST_FLAGS, "-r", relay.url)
    assert done.code == 0 and "page:" not in done.stderr


def test_config_web_base_wins_and_export_and_relay_request_embed_it(
    sam: Any, relay_process: Any
) -> None:
    relay = relay_process()
    assert "no web base set" in sam("config", "web-base").stderr
    assert sam("config", "web-base", "https://pages.example.org/").code == 0
    assert sam("config", "web-base").stdout == "https://pages.example.org\n"
    done = sam("request", "new", *REQUEST_FLAGS, "-r", relay.url, "--json")
    naddr = orjson.loads(done.stdout)["naddr"]
    page = f"https://pages.example.org/r/{naddr}"
    assert orjson.loads(done.stdout)["page"] == page
    markdown = sam("export", naddr, "-r", relay.url)
    assert markdown.code == 0, markdown.stderr
    assert "Read and share it on the web: https://pages.example.org/r/naddr1" in markdown.stdout
    html = sam("export", naddr, "-f", "html", "-r", relay.url).stdout
    assert '<a href="https://pages.example.org/r/naddr1' in html
    exported = orjson.loads(sam("export", naddr, "-f", "json", "-r", relay.url).stdout)
    assert exported["page"].startswith("https://pages.example.org/r/naddr1")
    relayed = sam("relay-request", naddr, "--to", "south", "-r", relay.url, "--json")
    assert relayed.code == 0, relayed.stderr
    assert orjson.loads(relayed.stdout)["page"].startswith("https://pages.example.org/r/naddr1")
    assert sam("config", "web-base", "--clear").code == 0
    done = sam("request", "new", *REQUEST_FLAGS, "-r", relay.url, "--json")
    assert orjson.loads(done.stdout)["page"].startswith(http_of(relay.url))


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "ftp://pages.example.org", "https://a b.example", "http://"]
)
def test_a_bad_web_base_is_refused(sam: Any, url: str) -> None:
    done = sam("config", "web-base", url)
    assert done.code == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "not an http:// or https:// address" in done.stderr


@pytest.mark.parametrize(
    "document",
    [
        {"shieldmutual": {"pages": "javascript:alert(1)"}},
        {"shieldmutual": {"pages": "https://evil.example/\u202e"}},
        {"shieldmutual": {"pages": "https://user:pw@evil.example"}},
        {"shieldmutual": {"pages": ["https://a.example"]}},
        {"shieldmutual": "https://a.example"},
        {},
    ],
)
def test_a_relay_advertising_a_bad_pages_address_gets_no_link(document: dict[str, Any]) -> None:
    assert advertised(document) is None
