"""The card preview page of dev mode, `/preview` (issue 12).

Testers had no way to see a card without an EHR or a sandbox. This page evaluates an example
patient (examples/) or a pasted Bundle or hook request offline (`cds_service.offline`, the
service's own pipeline, no network) and shows the cards as an EHR sidebar shows them, with the
raw request and response beside them.

Server-rendered with Jinja2 (autoescaped); card detail markdown rendered by markdown-it-py with
raw HTML disabled, so a card can never inject markup; a few lines of vanilla JavaScript for the
sidebar's buttons. Everything is served from here: the Content-Security-Policy allows this
origin only (no CDN, no inline script or style).

Wired only in dev mode: `install(app)` (the page evaluates any pasted record and has no
authentication, which a production service must not offer).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI
from jinja2 import Environment, PackageLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

import cds_service
from cds_service.offline import (
    HOOKS,
    Evaluation,
    InvalidDocument,
    available_policies,
    run_evaluation,
)
from cds_service.protocol import CdsHooksError
from cds_service.settings import Settings

router = APIRouter(include_in_schema=False)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",  # the page shows patient records
}
_STATIC = {
    "preview.css": "text/css; charset=utf-8",
    "preview.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
_ROW = re.compile(
    r"^\| \[`(?P<file>[^`]+\.json)`\]\([^)]*\) \| (?P<shows>.*?) \| `(?P<hook>[^`]+)` \|"
)
_EXAMPLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def default_examples_dir() -> Path:
    """examples/ of the source checkout: repository data, not package data (an installed wheel
    has none; pass `examples_dir` to `install` there)."""
    return Path(cds_service.__file__).resolve().parents[1] / "examples"


def install(app: FastAPI, examples_dir: Path | None = None) -> None:
    """Serve the preview page on `app` (dev mode only), with the examples of `examples_dir`
    (default: the checkout's examples/). Idempotent."""
    if getattr(app.state, "preview_examples", None) is not None:
        return
    app.state.preview_examples = examples_dir or default_examples_dir()
    app.include_router(router)


@dataclass(frozen=True, slots=True)
class ExamplePatient:
    name: str  # file stem
    shows: str
    hook: str


def list_examples(folder: Path) -> tuple[ExamplePatient, ...]:
    """The example files, described by their README table where it has a row for them."""
    if not folder.is_dir():
        return ()
    described: dict[str, ExamplePatient] = {}
    readme = folder / "README.md"
    if readme.is_file():
        for line in readme.read_text(encoding="utf-8").splitlines():
            row = _ROW.match(line)
            if row:
                stem = row["file"].removesuffix(".json")
                described[stem] = ExamplePatient(stem, row["shows"], row["hook"])
    return tuple(
        described.get(path.stem, ExamplePatient(path.stem, path.stem, "patient-view"))
        for path in sorted(folder.glob("*.json"))
    )


@dataclass(frozen=True, slots=True)
class _Form:
    example: str = ""
    pasted: str = ""
    hook: str = ""
    policy: str = ""
    as_of: str = ""

    @classmethod
    def of(cls, fields: Mapping[str, list[str]]) -> _Form:
        def first(name: str) -> str:
            values = fields.get(name) or [""]
            return values[0].strip()

        return cls(
            first("example"), first("bundle"), first("hook"), first("policy"), first("as_of")
        )


@router.get("/preview")
async def preview_page(request: Request) -> Response:
    """The page; with `?example=...` (and optionally hook, policy, as_of) also its cards."""
    form = _Form.of(parse_qs(request.url.query))
    return await _answer(request, form)


@router.post("/preview")
async def preview_post(request: Request) -> Response:
    """The form: a picked example, or a pasted Bundle or hook request, evaluated."""
    limit = _settings(request).max_body_bytes
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return _page(request, _Form(), error=f"the form is over {limit} bytes", status=413)
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=16)
    except (UnicodeDecodeError, ValueError):
        return _page(request, _Form(), error="the form could not be read", status=400)
    return await _answer(request, _Form.of(fields))


@router.get("/preview/static/{name}")
async def preview_static(name: str) -> Response:
    media_type = _STATIC.get(name)
    if media_type is None:
        return Response("not found", status_code=404, media_type="text/plain")
    text = (files("cds_service.http") / "templates" / name).read_text(encoding="utf-8")
    return Response(text, media_type=media_type, headers=_HEADERS)


async def _answer(request: Request, form: _Form) -> Response:
    if not form.pasted and not form.example:
        return _page(request, form)
    try:
        document = _document(request, form)
        as_of = date.fromisoformat(form.as_of) if form.as_of else None
        evaluation = await run_evaluation(
            document,
            hook=form.hook or None,
            policy=form.policy or None,
            as_of=as_of,
            settings=_settings(request),
        )
    except (InvalidDocument, CdsHooksError) as error:
        return _page(request, form, error=str(error).splitlines()[0], status=400)
    except ValueError:  # date.fromisoformat
        return _page(request, form, error=f"not a date (YYYY-MM-DD): {form.as_of!r}", status=400)
    return _page(request, form, evaluation=evaluation)


def _document(request: Request, form: _Form) -> Mapping[str, Any]:
    if form.pasted:
        try:
            document = json.loads(form.pasted)
        except json.JSONDecodeError as error:
            raise InvalidDocument(
                f"the pasted text is not JSON: {error.msg} at line {error.lineno}"
            ) from None
        if not isinstance(document, dict):
            raise InvalidDocument("the pasted JSON is not an object (a Bundle or a hook request)")
        return document
    names = {example.name for example in list_examples(_examples_dir(request))}
    if not _EXAMPLE_NAME.match(form.example) or form.example not in names:
        raise InvalidDocument(f"no example named {form.example!r}")
    path = _examples_dir(request) / f"{form.example}.json"
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _page(
    request: Request,
    form: _Form,
    *,
    evaluation: Evaluation | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    folder = _examples_dir(request)
    examples = list_examples(folder)
    settings = _settings(request)
    html = (
        _environment()
        .get_template("preview.html")
        .render(
            examples=examples,
            examples_dir=str(folder),
            hooks=HOOKS,
            policies=available_policies(),
            form=form,
            chosen_policy=form.policy or settings.policy,
            evaluation=evaluation,
            cards=[_card_view(card) for card in evaluation.response.cards] if evaluation else [],
            request_json=json.dumps(evaluation.request, indent=2, ensure_ascii=False)
            if evaluation
            else "",
            response_json=json.dumps(evaluation.response.wire(), indent=2, ensure_ascii=False)
            if evaluation
            else "",
            error=error,
        )
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _card_view(card: Any) -> dict[str, Any]:
    """What the template shows of a card: its wire form plus the rendered detail."""
    wire: dict[str, Any] = card.model_dump(mode="json", exclude_none=True)
    advice = (wire.get("extension") or {}).get("aza-advisor") or {}
    wire["recommendation"] = advice.get("recommendation", "")
    wire["detail_html"] = render_markdown(card.detail or "")
    wire["actions_json"] = [
        json.dumps(suggestion.get("actions", []), indent=2, ensure_ascii=False)
        for suggestion in wire.get("suggestions", [])
    ]
    return wire


def render_markdown(text: str) -> Markup:
    """Card detail as HTML: CommonMark, raw HTML escaped (not passed through), unsafe link
    schemes (javascript:, data:) refused by markdown-it's link validation."""
    return Markup(_markdown().render(text))  # noqa: S704 - markdown-it output, HTML disabled


@cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False})


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("cds_service.http", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _examples_dir(request: Request) -> Path:
    folder: Path = getattr(request.app.state, "preview_examples", None) or default_examples_dir()
    return folder
