"""HTTP against the EHR's FHIR server: one GET of one page, its failures as values.

The access token travels only in the `headers` argument of a call, so it lives as long as the
call. Failure reasons are our own words plus a status code or the server's diagnostics; an
httpx exception (whose request object carries the headers) is never kept or formatted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from cds_service.prefetch.bundles import Page, operation_outcome_reason, read_answer
from cds_service.prefetch.outcome import Failure, Problem
from cds_service.prefetch.settings import FetchSettings
from cds_service.prefetch.templates import PrefetchTemplate

FHIR_JSON = "application/fhir+json"


def new_fhir_client() -> httpx.AsyncClient:
    """A client to share across requests, so that connections to the EHR are reused.

    It holds no credentials: every call passes its own headers. Redirects are not followed,
    so a token is never replayed to a URL the service did not choose.
    """
    return httpx.AsyncClient(headers={"Accept": FHIR_JSON}, follow_redirects=False)


def request_headers(access_token: str | None) -> dict[str, str]:
    """The headers of one hook request's FHIR calls (SPEC-09/10)."""
    headers = {"Accept": FHIR_JSON}
    if access_token:
        headers["Authorization"] = f"Bearer {access_token}"
    return headers


@dataclass(frozen=True, slots=True)
class FhirServer:
    """A `fhirServer` that passed the checks; `same_origin` keeps the token on its origin."""

    base: httpx.URL

    def query_url(self, rendered: str) -> str:
        return f"{str(self.base).rstrip('/')}/{rendered}"

    def same_origin(self, url: str) -> str | Problem:
        """`url` made absolute, if it is on this server; the token must not go elsewhere."""
        try:
            target = self.base.join(url)
        except httpx.InvalidURL:
            return Problem(Failure.FOREIGN_NEXT_LINK, "next link is not a valid URL")
        if (target.scheme, target.host, target.port) != (
            self.base.scheme,
            self.base.host,
            self.base.port,
        ):
            return Problem(Failure.FOREIGN_NEXT_LINK, "next link points outside fhirServer")
        return str(target)


def check_fhir_server(url: str | None, settings: FetchSettings) -> FhirServer | Problem:
    """The server to fetch from, or why there is none usable."""
    if not url:
        return Problem(Failure.NO_FHIR_SERVER, "no fhirServer in the request")
    try:
        base = httpx.URL(url)
    except httpx.InvalidURL:
        return Problem(Failure.NO_FHIR_SERVER, "fhirServer is not a valid URL")
    if base.scheme not in ("http", "https") or not base.host:
        return Problem(Failure.NO_FHIR_SERVER, "fhirServer is not an http(s) URL")
    if settings.require_https and base.scheme != "https":
        return Problem(Failure.INSECURE_FHIR_SERVER, "fhirServer is not https")
    return FhirServer(base)


async def get_page(
    client: httpx.AsyncClient,
    url: str,
    *,
    template: PrefetchTemplate,
    headers: dict[str, str],
    settings: FetchSettings,
) -> Page | Problem:
    """One GET, read as an answer to `template`'s query."""
    try:
        response = await client.get(
            url,
            headers=headers,
            timeout=settings.request_timeout_ms / 1000,
            follow_redirects=False,
        )
    except httpx.TimeoutException:
        return Problem(Failure.TIMEOUT, f"timeout after {settings.request_timeout_ms} ms")
    except httpx.ConnectError:
        return Problem(Failure.CONNECTION, "connection to fhirServer failed")
    except httpx.HTTPError as error:
        return Problem(Failure.CONNECTION, f"request failed ({type(error).__name__})")
    body = _json(response)
    if response.status_code != 200:
        return _status_problem(response.status_code, body)
    if body is None:
        return Problem(Failure.UNREADABLE, "unreadable JSON")
    return read_answer(body, template)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, RecursionError):  # bad JSON, bad encoding, absurd nesting
        return None


def _status_problem(status: int, body: Any) -> Problem:
    outcome = operation_outcome_reason(body)
    reason = f"HTTP {status}" if outcome is None else f"HTTP {status} ({outcome})"
    return Problem(Failure.HTTP_STATUS, reason, http_status=status)
