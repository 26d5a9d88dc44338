"""The spending report as a file: its title line, and one editable report per request."""

from __future__ import annotations

from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.report import report_identifier, split_title


def test_a_first_heading_line_is_the_title() -> None:
    assert split_title("# Where it went\r\n\n## Spent\n- rent\n") == (
        "Where it went",
        "## Spent\n- rent",
    )
    assert split_title("## Spent\n- rent") == (None, "## Spent\n- rent")
    assert split_title("#   \nbody") == (None, "#   \nbody")


def test_one_report_identifier_per_request() -> None:
    assert report_identifier(Address(30402, "ab" * 32, "4f1c")) == "4f1c-report"
    long = Address(30402, "ab" * 32, "x" * 100)
    ident = report_identifier(long)
    assert ident.startswith("report-") and len(ident) == 23
    assert (
        ident == report_identifier(long) != report_identifier(Address(30402, "cd" * 32, "x" * 100))
    )
