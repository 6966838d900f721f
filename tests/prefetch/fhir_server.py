"""A small FHIR R4 server on loopback, started by the tests, standing in for an EHR.

It answers reads (`GET /fhir/Patient/x`) and the searches our prefetch templates use, by
GET or by a form-encoded `POST /fhir/{Type}/_search` (as the CDS Hooks sandbox sends them):
`patient`/`subject`, `code` (`system|code`, comma = OR), `category`, `status`, `_id`, `_count`
and `_sort` (`-` for descending). An unknown search parameter is a 400, like a strict server,
so a template the server does not understand fails loudly instead of returning everything.

Faults are configured per resource type: hang, HTTP 500, a 200 carrying an OperationOutcome,
a garbage body, absurdly nested JSON, 401, a slow answer (`slow_seconds`), a connection closed
without an answer, a connection reset (RST); `chaos` applies the last three at random to a share
of all requests. It speaks HTTP/1.1 with keep-alive, so clients reuse connections. `page_size`
forces paginated Bundles with `next` links; `required_token` makes every request without that
bearer token a 401. `canned` answers every request with a fixed status, body and headers (a
redirect with its `Location`, a body with secrets in it). Every request is recorded (method,
path, parameters, Authorization and Accept headers, client port), and every connection
counted (`connections`), so tests can assert what was sent, and that nothing was.

Reusable from any test module:

    from tests.prefetch.fhir_server import FhirTestServer, Fault

    with FhirTestServer(resources) as server:
        server.fail("Observation", Fault.HANG)
        server.page_size = 2
        ... fhir_server=server.base_url ...
"""

from __future__ import annotations

import json
import random
import socket
import struct
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from cds_service.prefetch import PrefetchTemplate, Unrenderable, render_template

Resource = dict[str, Any]

FHIR_JSON = "application/fhir+json"


class Fault(StrEnum):
    HANG = "hang"
    ERROR_500 = "500"
    OPERATION_OUTCOME = "operation-outcome"  # HTTP 200 whose body is an OperationOutcome
    GARBAGE = "garbage"
    DEEP_JSON = "deep-json"  # valid JSON nested beyond any parser's recursion limit
    UNAUTHORIZED = "401"
    SLOW = "slow"  # the right answer, after `slow_seconds`
    DROP = "drop"  # the connection closed without an answer
    RESET = "reset"  # the connection reset (RST), without an answer
    HUGE = "huge"  # a valid, empty searchset padded to `huge_bytes`
    NAN_JSON = "nan-json"  # a searchset with `NaN` in it: Python's json accepts it, RFC 8259 not


# What `answer` returns instead of a status when the connection is to be dropped or reset.
_DROP, _RESET = -1, -2


@dataclass(frozen=True)
class CannedAnswer:
    """One answer to every request: e.g. `CannedAnswer(307, b"", {"Location": elsewhere})`."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    params: Mapping[str, list[str]]
    authorization: str | None
    accept: str | None
    client_port: int

    @property
    def resource_type(self) -> str:
        return self.path.removeprefix("/fhir/").split("/", 1)[0]


# The search parameters for `_sort`, and the element(s) each sorts on.
_SORT_ELEMENTS: Mapping[str, tuple[str, ...]] = {
    "date": ("effectiveDateTime", "effectivePeriod.start", "effectiveInstant", "issued"),
    "effective": ("effectiveDateTime", "effectivePeriod.start"),
    "effective-time": ("effectiveDateTime", "effectivePeriod.start"),
    "authoredon": ("authoredOn",),
    "recorded-date": ("recordedDate",),
}
_SEARCH_PARAMETERS = frozenset(
    {"patient", "subject", "code", "category", "status", "_id", "_count", "_sort", "_page"}
)


class FhirTestServer:
    """A threaded HTTP server on 127.0.0.1 with an ephemeral port; use as a context manager."""

    def __init__(self, resources: Iterable[Resource] = ()) -> None:
        self.resources: list[Resource] = list(resources)
        self.page_size: int | None = None
        self.next_link_base: str | None = None  # to advertise next links on another origin
        self.required_token: str | None = None
        self.refuse_raw_bar = False  # as Tomcat does by default: 400 to a raw "|" in the URL
        self.hang_seconds = 30.0
        self.slow_seconds = 0.2
        self.huge_bytes = 50 * 1000 * 1000
        self._chaos: tuple[float, random.Random] | None = None
        # When set, each request waits until this many are in flight together: a client
        # that queries one at a time breaks the barrier and gets 503s.
        self.rendezvous: threading.Barrier | None = None
        self.requests: list[RecordedRequest] = []
        self.connections = 0
        self.canned: CannedAnswer | None = None
        self._faults: dict[str, tuple[Fault, int]] = {}
        self._fault_budget: dict[str, int] = {}
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._http = _HttpServer(self)
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}/fhir"

    def __enter__(self) -> FhirTestServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._release.set()  # lets hanging handlers finish
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)

    def add(self, *resources: Resource) -> None:
        self.resources.extend(resources)

    def fail(
        self, resource_type: str, fault: Fault, *, from_page: int = 1, times: int | None = None
    ) -> None:
        """Answer requests for `resource_type` ("*" for all) with `fault`, from that page on;
        only the first `times` such requests when given (a transient fault)."""
        self._faults[resource_type] = (fault, from_page)
        if times is not None:
            self._fault_budget[resource_type] = times

    def chaos(self, share: float, *, seed: int = 0) -> None:
        """From now on, answer `share` of all requests (0 to 1, at random, reproducibly by
        `seed`) slowly, by closing the connection, or by resetting it, in equal parts."""
        self._chaos = (share, random.Random(seed)) if share > 0 else None

    def requests_for(self, resource_type: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.resource_type == resource_type]

    def requests_for_query(self, rendered: str) -> list[RecordedRequest]:
        """The recorded requests for a rendered template (`Type?params` or `Type/id`), any page."""
        path, _, query = rendered.partition("?")
        wanted = parse_qs(query, keep_blank_values=True)
        return [
            request
            for request in self.requests
            if request.path == f"/fhir/{path}"
            and {k: v for k, v in request.params.items() if k != "_page"} == wanted
        ]

    # --- answering -----------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def answer(self, request: RecordedRequest) -> tuple[int, bytes]:
        self._record(request)
        if self.required_token is not None and request.authorization != (
            f"Bearer {self.required_token}"
        ):
            return 401, _outcome("login", "Bearer token missing or invalid")
        if self.canned is not None:
            return self.canned.status, self.canned.body
        if self.rendezvous is not None:
            try:
                self.rendezvous.wait()
            except threading.BrokenBarrierError:
                return 503, _outcome("transient", "requests did not arrive together")
        parts = request.path.removeprefix("/fhir/").split("/")
        page = int(request.params.get("_page", ["1"])[0])
        fault = self._fault(parts[0], page)
        if fault is not None:
            return fault
        return self._content(request, parts, page)

    def _content(self, request: RecordedRequest, parts: list[str], page: int) -> tuple[int, bytes]:
        if len(parts) == 2 and parts[1] != "_search":
            return self._read(parts[0], parts[1])
        if len(parts) == 1 or parts[1] == "_search":
            return self._search(parts[0], request.params, page)
        return 404, _outcome("not-found", f"unknown path {request.path}")

    def _fault(self, resource_type: str, page: int) -> tuple[int, bytes] | None:
        key = resource_type if resource_type in self._faults else "*"
        configured = self._faults.get(key)
        fault = None if configured is None or page < configured[1] else configured[0]
        if fault is not None and key in self._fault_budget:
            with self._lock:
                if self._fault_budget[key] > 0:
                    self._fault_budget[key] -= 1
                else:
                    fault = None
        if fault is None and self._chaos is not None:
            share, chance = self._chaos
            with self._lock:
                draw = chance.random()
            if draw < share:
                fault = (Fault.SLOW, Fault.DROP, Fault.RESET)[int(draw / share * 3) % 3]
        if fault is None:
            return None
        if fault is Fault.SLOW:
            self._release.wait(self.slow_seconds)
            return None
        if fault is Fault.DROP:
            return _DROP, b""
        if fault is Fault.RESET:
            return _RESET, b""
        if fault is Fault.HANG:
            self._release.wait(self.hang_seconds)
            return 503, _outcome("timeout", "hung")
        if fault is Fault.ERROR_500:
            return 500, _outcome("exception", "internal error in the test server")
        if fault is Fault.OPERATION_OUTCOME:
            return 200, _outcome("processing", "search failed in the test server")
        if fault is Fault.NAN_JSON:
            return 200, b'{"resourceType": "Bundle", "type": "searchset", "total": NaN}'
        if fault is Fault.HUGE:
            head = b'{"resourceType": "Bundle", "type": "searchset", "entry": [], "pad": "'
            return 200, head + b"x" * max(self.huge_bytes - len(head) - 2, 0) + b'"}'
        if fault is Fault.GARBAGE:
            return 200, b"<html><body>Service temporarily unavailable</body></html>"
        if fault is Fault.DEEP_JSON:
            return 200, b"[" * 100_000 + b"]" * 100_000
        return 401, _outcome("login", "token expired")

    def _read(self, resource_type: str, resource_id: str) -> tuple[int, bytes]:
        for resource in self.resources:
            if resource.get("resourceType") == resource_type and resource.get("id") == resource_id:
                return 200, json.dumps(resource).encode()
        return 404, _outcome("not-found", f"{resource_type}/{resource_id} is not known")

    def _search(
        self, resource_type: str, params: Mapping[str, list[str]], page: int
    ) -> tuple[int, bytes]:
        unknown = set(params) - _SEARCH_PARAMETERS
        if unknown:
            return 400, _outcome("not-supported", f"unknown search parameter {sorted(unknown)}")
        matches = [
            resource
            for resource in self.resources
            if resource.get("resourceType") == resource_type
            and all(
                _matches(resource, name, value)
                for name, values in params.items()
                if not name.startswith("_") or name == "_id"
                for value in values
            )
        ]
        for sort in reversed(params.get("_sort", [""])[0].split(",")):
            if sort:
                matches.sort(
                    key=lambda r, s=sort: _sort_key(r, s.lstrip("-")), reverse=sort[0] == "-"
                )
        size = min(
            int(params.get("_count", [str(len(matches) or 1)])[0]),
            self.page_size or len(matches) or 1,
        )
        start = (page - 1) * size
        bundle: Resource = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
            "entry": [
                {
                    "fullUrl": f"{self.base_url}/{r['resourceType']}/{r.get('id')}",
                    "resource": r,
                    "search": {"mode": "match"},
                }
                for r in matches[start : start + size]
            ],
        }
        if start + size < len(matches):
            query = {name: values for name, values in params.items() if name != "_page"}
            query["_page"] = [str(page + 1)]
            base = self.next_link_base or self.base_url
            bundle["link"] = [
                {"relation": "next", "url": f"{base}/{resource_type}?{urlencode(query, True)}"}
            ]
        return 200, json.dumps(bundle).encode()


def _matches(resource: Resource, name: str, value: str) -> bool:
    alternatives = value.split(",")
    if name in ("patient", "subject"):
        references = {
            ref.get("reference")
            for ref in (resource.get("subject"), resource.get("patient"))
            if isinstance(ref, dict)
        }
        return any((alt if "/" in alt else f"Patient/{alt}") in references for alt in alternatives)
    if name == "code":
        concept = resource.get("code") or resource.get("medicationCodeableConcept") or {}
        return any(_token_matches(concept, alt) for alt in alternatives)
    if name == "category":
        concepts = resource.get("category") or []
        concepts = concepts if isinstance(concepts, list) else [concepts]
        return any(_token_matches(c, alt) for c in concepts for alt in alternatives)
    if name == "status":
        return resource.get("status") in alternatives
    if name == "_id":
        return resource.get("id") in alternatives
    raise AssertionError(name)


def _token_matches(concept: Resource, token: str) -> bool:
    system, bar, code = token.rpartition("|")
    for coding in concept.get("coding", []):
        if code and coding.get("code") != code:
            continue
        if bar and system and coding.get("system") != system:
            continue
        if bar and not system and coding.get("system"):
            continue
        return True
    return False


def _sort_key(resource: Resource, parameter: str) -> datetime:
    """The value's instant; partial dates ("2026", "2026-11") by their first instant, as real
    servers sort them."""
    for path in _SORT_ELEMENTS[parameter]:
        value: Any = resource
        for step in path.split("."):
            value = value.get(step) if isinstance(value, dict) else None
        if isinstance(value, str):
            padded = value + "-01-01"[len(value) - 4 :] if len(value) < 10 else value
            parsed = datetime.fromisoformat(padded)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.min.replace(tzinfo=UTC)


def _outcome(code: str, diagnostics: str) -> bytes:
    return json.dumps(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
        }
    ).encode()


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops concurrent connects (1 s SYN retry)

    def __init__(self, fhir: FhirTestServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fhir = fhir

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet about clients that reset their connection (a deadline, a closed pool)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is observable
    timeout = 5
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and delayed
        # ACKs add 40 ms to every kept-alive exchange.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.fhir._lock:
            self.server.fhir.connections += 1

    def do_GET(self) -> None:
        self._serve(self.path, b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._serve(self.path, self.rfile.read(length))

    def _serve(self, target: str, form: bytes) -> None:
        if self.server.fhir.refuse_raw_bar and "|" in target:
            self._send(400, _outcome("invalid", "Invalid character found in the request target"))
            return
        url = urlsplit(target)
        params = parse_qs(url.query, keep_blank_values=True)
        for name, values in parse_qs(form.decode(), keep_blank_values=True).items():
            params.setdefault(name, []).extend(values)
        request = RecordedRequest(
            method=self.command,
            path=url.path,
            params=params,
            authorization=self.headers.get("Authorization"),
            accept=self.headers.get("Accept"),
            client_port=self.client_address[1],
        )
        status, body = self.server.fhir.answer(request)
        if status in (_DROP, _RESET):
            self.close_connection = True
            if status == _RESET:  # linger 0: closing now sends RST instead of FIN
                linger = struct.pack("ii", 1, 0)
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                self.rfile.close()
                self.connection.close()
            return
        canned = self.server.fhir.canned
        self._send(status, body, canned.headers if canned is not None else {})

    def _send(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", FHIR_JSON)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (deadline): nothing left to answer
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the tests assert on recorded requests, not on a log."""


# --- helpers for equivalence tests ------------------------------------------------------------


def ehr_prefetch(
    server: FhirTestServer,
    templates: Mapping[str, PrefetchTemplate],
    context: Mapping[str, Any],
    keys: Iterable[str] | None = None,
) -> dict[str, Any]:
    """What an EHR would prefetch for `keys` (all by default): each template rendered and run
    against `server`, the whole answer in one Bundle. Recorded requests are cleared after, so
    that tests see only the service's own queries."""
    chosen = list(templates) if keys is None else list(keys)
    saved_page_size, server.page_size = server.page_size, None
    prefetch: dict[str, Any] = {}
    with httpx.Client(headers={"Accept": FHIR_JSON}) as client:
        for key in chosen:
            rendered = render_template(templates[key].template, context)
            assert not isinstance(rendered, Unrenderable), rendered
            prefetch[key] = client.get(f"{server.base_url}/{rendered}").json()
    server.page_size = saved_page_size
    server.requests.clear()
    return prefetch


def resource_identities(resources: Iterable[Resource]) -> Counter[tuple[str, str]]:
    """The resources as a multiset of (type, id), for comparing resolutions."""
    return Counter((r["resourceType"], str(r.get("id"))) for r in resources)
