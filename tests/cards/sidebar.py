"""A card's text as an EHR sidebar shows it, for the concise-card tests (issue 12).

`rendered_lines` renders the detail markdown roughly as a sidebar does: markup and escapes
removed, each paragraph and each bullet starting a new line, wrapped at about 70 characters;
the blank lines between paragraphs are spacing, not text, and are not counted.
`visible_text` is everything a clinician reads on the card: summary, detail, suggestion and
link labels (the source label names only the service and policy).
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

WIDTH = 70
FHIR_ID = re.compile(r"\b[A-Z][A-Za-z]+/[A-Za-z0-9\-.]+")
# Not FHIR ids although they match the pattern: a gene pair, a unit.
NOT_IDS = frozenset({"TPMT/NUDT15", "AU/mL"})
JARGON = ("medication[x]", "Not usable -", "medicationReference", "OperationOutcome", "(no id)")


def plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown.replace("**", ""))


def rendered_lines(detail: str, width: int = WIDTH) -> list[str]:
    lines: list[str] = []
    for line in detail.splitlines():
        text = plain(line).strip()
        if text:
            lines += textwrap.wrap(text, width=width, subsequent_indent="  ")
    return lines


def visible_text(card: dict[str, Any]) -> list[str]:
    texts = [card["summary"], card.get("detail") or ""]
    texts += [s["label"] for s in card.get("suggestions", [])]
    texts += [a.get("description", "") for s in card.get("suggestions", []) for a in s["actions"]]
    texts += [link["label"] for link in card.get("links", [])]
    return texts


def fhir_ids(text: str) -> set[str]:
    return set(FHIR_ID.findall(plain(text))) - NOT_IDS
