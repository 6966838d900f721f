"""The dev-mode card preview page (issue 12), through the app with a TestClient: what the
browser test (tests/test_preview_browser.py) does not need a browser for."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.http import preview
from cds_service.http.app import create_app
from cds_service.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    database = tmp_path_factory.mktemp("feedback") / "feedback.sqlite3"
    app = create_app(Settings(dev=True, feedback_database=database, max_body_bytes=200_000))
    preview.install(app)
    preview.install(app)  # idempotent: wiring it twice changes nothing
    with TestClient(app) as client:
        yield client


def cards(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-indicator="([^"]+)" data-recommendation="([^"]*)"', html)


def test_issue12_preview_page_lists_examples_with_csp(page: TestClient) -> None:
    response = page.get("/preview")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    html = response.text
    for example in EXAMPLES.glob("*.json"):
        assert f'value="{example.stem}"' in html
    # Nothing from elsewhere: every script and stylesheet is this page's own.
    assert re.findall(r'(?:src|href)="(/[^"]*)"', html)
    assert not re.search(r'<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//', html)
    assert "<style" not in html and " style=" not in html  # CSP forbids inline style
    assert not re.search(r"<script>[^<]", html)  # nor inline script


def test_issue12_preview_example_shows_its_card(page: TestClient) -> None:
    response = page.get(
        "/preview",
        params={"example": "s9-16-azathioprine-start-no-tpmt", "hook": "order-select"},
    )
    assert response.status_code == 200
    assert cards(response.text) == [("warning", "check-tpmt")]
    assert 'class="suggestion' in response.text
    assert "Override reason" in response.text
    assert "aza-withdrawal-order-select" in response.text  # the raw request/response


def test_issue12_preview_policy_and_date(page: TestClient) -> None:
    response = page.post(
        "/preview",
        data={"example": "s9-02-trough-below-threshold", "policy": "guideline-5", "as_of": ""},
    )
    assert cards(response.text) == [("info", "withdrawal-candidate")]
    response = page.post(
        "/preview", data={"example": "s9-01-withdrawal-candidate", "as_of": "2027-06-01"}
    )
    assert cards(response.text) == [("warning", "insufficient-data")]


def test_issue12_preview_pasted_bundle_and_hook_request(page: TestClient) -> None:
    bundle = (EXAMPLES / "s9-13-monitor-after-withdrawal.json").read_text(encoding="utf-8")
    response = page.post("/preview", data={"bundle": bundle})
    assert cards(response.text) == [("info", "monitor-after-withdrawal")]
    request = re.search(r'<pre id="raw-request">(.*?)</pre>', response.text, re.S)
    assert request is not None
    hook_request = request.group(1).replace("&#34;", '"').replace("&#39;", "'")
    hook_request = hook_request.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    again = page.post("/preview", data={"bundle": hook_request, "as_of": "2026-12-02"})
    assert cards(again.text) == [("info", "monitor-after-withdrawal")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"bundle": "{not json"}, "not JSON"),
        ({"bundle": json.dumps({"resourceType": "Patient"})}, "found a Patient"),
        ({"example": "../pyproject"}, "no example named"),
        ({"example": "s9-01-withdrawal-candidate", "as_of": "soon"}, "not a date"),
        ({"example": "s9-01-withdrawal-candidate", "policy": "x"}, "unknown policy"),
    ],
)
def test_issue12_preview_bad_input_is_named_on_the_page(
    page: TestClient, data: dict[str, str], message: str
) -> None:
    response = page.post("/preview", data=data)
    assert response.status_code == 400
    assert 'role="alert"' in response.text and message in response.text
    assert "Traceback" not in response.text


def test_issue12_preview_form_over_the_body_limit(page: TestClient) -> None:
    response = page.post("/preview", data={"bundle": "x" * 300_000})
    assert response.status_code == 413


def test_issue12_preview_markdown_escapes_html() -> None:
    html = str(
        preview.render_markdown(
            "<script>alert(1)</script> **bold** [x](javascript:alert(1)) <img src=x onerror=y>"
        )
    )
    assert "<strong>bold</strong>" in html
    assert "<script" not in html and "<img" not in html
    assert 'href="javascript' not in html


def test_issue12_preview_static_assets_only_known_names(page: TestClient) -> None:
    assert (
        page.get("/preview/static/preview.js").headers["content-type"].startswith("text/javascript")
    )
    assert page.get("/preview/static/preview.css").status_code == 200
    assert page.get("/preview/static/preview.html").status_code == 404
    assert page.get("/preview/static/..%2f..%2fpreview.py").status_code == 404
