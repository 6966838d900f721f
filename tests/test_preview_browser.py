"""The card preview page in a real headless Chromium (issue 12): Debian's `chromium` driven
by playwright-python (no browser download: the system browser), against a real uvicorn
process on loopback. Picks three examples, checks each card's text and indicator colour,
exercises a suggestion and a dismissal, and writes the screenshots the README shows
(docs/screenshots/). Any console error (a CSP violation, a script error) fails the test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import serve_dev

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is absent: apt-get install chromium (.ci/run installs it)",
)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) missing")

# (example, hook its table gives, recommendation, indicator, border colour, summary word)
THREE = [
    ("s9-01-withdrawal-candidate", "withdrawal-candidate", "info", "rgb(9, 105, 218)", "withdraw"),
    ("s9-07-antibodies-never-tested", "insufficient-data", "warning", "rgb(191, 135, 0)", ""),
    ("s9-16-azathioprine-start-no-tpmt", "check-tpmt", "warning", "rgb(191, 135, 0)", "tpmt"),
]


def test_issue12_preview_page_in_headless_chromium(tmp_path: Path) -> None:
    problems: list[str] = []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serve_dev(tmp_path) as (base, _), sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(f"{base}/preview")
            assert page.title() == "aza-advisor · card preview"
            for example, recommendation, indicator, colour, word in THREE:
                with page.expect_navigation():
                    page.select_option("#example", example)  # picking it submits the form
                check_card(page, recommendation, indicator, colour, word)
                shoot(page, SCREENSHOTS / f"preview-{example}.png")
            exercise_sidebar(page)
        finally:
            browser.close()
    assert problems == []


def check_card(page: Any, recommendation: str, indicator: str, colour: str, word: str) -> None:
    cards = page.locator("article.card")
    assert cards.count() == 1
    card = cards.first
    assert card.get_attribute("data-recommendation") == recommendation
    assert card.get_attribute("data-indicator") == indicator
    assert card.evaluate("e => getComputedStyle(e).borderLeftColor") == colour
    badge = card.locator(".indicator")
    assert badge.inner_text().lower() == indicator
    # The visible text is the service's card: summary as sent, detail rendered from markdown.
    answer = json.loads(page.locator("#raw-response").inner_text())
    [sent] = answer["cards"]
    summary = card.locator(".summary").inner_text()
    assert summary == sent["summary"]
    assert word in summary.lower()
    assert card.locator(".detail p, .detail li").count() >= 1
    assert "**" not in card.locator(".detail").inner_text()  # rendered, not raw markdown
    assert card.locator("button.suggestion").count() == len(sent.get("suggestions", []))
    assert card.locator(".links a").count() == len(sent.get("links", []))


def exercise_sidebar(page: Any) -> None:
    """A suggestion shows its actions; a dismissal with an override reason hides the card."""
    card = page.locator("article.card").first
    button = card.locator("button.suggestion").first
    actions = card.locator("pre.actions").first
    assert not actions.is_visible()
    button.click()
    assert actions.is_visible() and '"create"' in actions.inner_text()
    card.locator("select.reason").select_option(index=1)
    card.locator("button.dismiss-button").click()
    assert not card.locator(".card-body").is_visible()
    assert card.locator(".dismissed").inner_text().startswith("Dismissed: ")


def shoot(page: Any, path: Path) -> None:
    """The controls and the sidebar (no random card UUIDs there, so the files stay stable)."""
    boxes = [page.locator(selector).bounding_box() for selector in ("#preview-form", "#sidebar")]
    left = min(box["x"] for box in boxes) - 8
    top = min(box["y"] for box in boxes) - 8
    right = max(box["x"] + box["width"] for box in boxes) + 8
    bottom = max(box["y"] + box["height"] for box in boxes) + 8
    clip = {"x": left, "y": top, "width": right - left, "height": bottom - top}
    page.screenshot(path=str(path), clip=clip, full_page=True)
