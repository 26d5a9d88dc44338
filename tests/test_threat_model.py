"""docs/THREAT-MODEL.md points every promise at a test: each one it names must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def test_every_test_the_threat_model_names_exists() -> None:
    text = (ROOT / "docs" / "THREAT-MODEL.md").read_text(encoding="utf-8")
    references = set(REFERENCE.findall(text))
    assert len(references) > 40  # the table was read, not skipped by a broken pattern
    missing = [
        f"{path}::{name}"
        for path, name in sorted(references)
        if not re.search(
            rf"^(async )?def {name}\(", (ROOT / path).read_text(encoding="utf-8"), re.M
        )
    ]
    assert not missing, missing
