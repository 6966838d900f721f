"""A site's own orderable lab codes (settings.order_catalogue) replace the placeholder codings;
mistakes stop the service at start-up rather than producing orders the EHR cannot place."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_service.cards import load_catalogue
from cds_service.rules import Need

SITE = """
[orders.antibodies]
system = "http://lab.st-example-hospital.org/orders"
code = "IFXAB"
display = "Infliximab antibodies (St Example lab)"
source = "St Example laboratory catalogue, 2026"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "orders.toml"
    path.write_text(text)
    return path


def test_site_coding_replaces_the_placeholder_and_keeps_the_label(tmp_path: Path) -> None:
    builtin = load_catalogue().orders[Need.ANTIBODIES]
    site = load_catalogue(write(tmp_path, SITE)).orders[Need.ANTIBODIES]
    assert (site.system, site.code) == ("http://lab.st-example-hospital.org/orders", "IFXAB")
    assert site.label == builtin.label
    assert (
        load_catalogue(write(tmp_path, SITE)).orders[Need.CRP] == load_catalogue().orders[Need.CRP]
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[orders.haemoglobin]\nsystem = "s"\ncode = "c"\n', "unknown orderable"),
        ('[orders.crp]\nlabel = "CRP"\nsystem = "s"\ncode = "c"\n', "takes system, code"),
        ('[orders.crp]\nsystem = "s"\n', "takes system, code"),
        ('[override_reasons]\nsystem = "s"\n', "only \\[orders"),
    ],
)
def test_site_catalogue_mistakes_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_catalogue(write(tmp_path, text))
