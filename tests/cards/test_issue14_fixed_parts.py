"""Issue 14: the cards' cheaper parts say exactly what they said before.

Markdown escaping finds special characters with a regex instead of translating every
character; links and override reasons are validated once and shared, so they are frozen.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cds_service.cards import CardContext, render_card
from cds_service.cards.wording import md
from cds_service.rules import advise, load_policy
from tests.rules.builders import example_1

_SPECIAL = "\\`*_[]<>|#"


@given(st.text(alphabet=st.sampled_from([*_SPECIAL, "a", " ", "é", "\n"])) | st.text())
def test_issue14_md_escapes_every_markdown_special_character(text: str) -> None:
    assert md(text) == text.translate(str.maketrans({c: "\\" + c for c in _SPECIAL}))


def test_issue14_links_and_override_reasons_are_shared_and_frozen() -> None:
    (assessment,) = advise(example_1(), load_policy(), hook="patient-view")
    first, second = (render_card(assessment, CardContext()) for _ in range(2))
    assert first.links and first.overrideReasons
    assert first.links[0] is second.links[0]
    assert first.overrideReasons[0] is second.overrideReasons[0]
    assert first.links is not second.links  # each card has its own lists
    with pytest.raises(ValidationError):
        first.links[0].url = "https://elsewhere.example"
    with pytest.raises(ValidationError):
        first.overrideReasons[0].display = "changed"
