"""The card data file: every orderable input has a code, override reasons are full Codings."""

from __future__ import annotations

import tomllib
from pathlib import Path

from cds_service.cards.catalogue import load_catalogue
from cds_service.rules import Need

LAB_NEEDS = {Need.INFLIXIMAB_LEVEL, Need.ANTIBODIES, Need.CRP, Need.PLATELETS, Need.TPMT}


def test_s8_every_lab_need_is_orderable_with_its_source() -> None:
    orders = load_catalogue().orders
    assert set(orders) == LAB_NEEDS
    assert (orders[Need.INFLIXIMAB_LEVEL].system, orders[Need.INFLIXIMAB_LEVEL].code) == (
        "http://loinc.org",
        "39803-2",
    )
    assert (orders[Need.CRP].code, orders[Need.PLATELETS].code) == ("1988-5", "777-3")
    assert all(o.source and o.display and o.system.startswith("http") for o in orders.values())


def test_spec_23_override_reasons_have_system_code_display() -> None:
    reasons = load_catalogue().override_reasons
    assert reasons.system.startswith("https://")
    assert reasons.codes and all(code and display for code, display in reasons.codes.items())


def test_catalogue_ships_as_package_data() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert "cards/*.toml" in pyproject["tool"]["setuptools"]["package-data"]["cds_service"]
