"""HTTP against the EHR's FHIR server: one GET of one page, its failures as values.

The access token travels only in the `headers` argument of a call, so it lives as long as the
call. Failure reasons are our own words plus a status code or an outcome's codes; an
httpx exception (whose request object carries the headers) is never kept or formatted. The
reasons are for the log only: the caller hears one sentence for all of them (issue 11, see
`outcome`).

A client that cannot wedge (issue 10): httpcore's pool (1.0.9, encode/httpcore#1093) loses a
connection slot for good when a request is cancelled while it waits for a slot, so cancelling
requests at the deadline eventually leaves a pool that sends nothing. So no request is ever
cancelled while it waits for a slot or connects: requests first wait on our own per-server
`CapacityLimiter` (below the pool size, and cancel-safe), then go to httpx with timeouts
(connect, write, read, pool) that end them inside the deadline by themselves. A refused or
reset connection is retried once when the time left allows. A `FallbackWatchdog` sees every
request's fate: when every request fails to connect or times out for a while, the app
reports itself unready and rebuilds the client.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
import httpx

from cds_service.prefetch.bundles import Page, operation_outcome_reason, read_answer
from cds_service.prefetch.outcome import Failure, Problem
from cds_service.prefetch.settings import FetchSettings
from cds_service.prefetch.templates import PrefetchTemplate
from cds_service.prefetch.transport import fhir_transport
from cds_service.protocol.json_text import InvalidJson, decode_json

FHIR_JSON = "application/fhir+json"


def _remember_sniffio_is_missing() -> None:
    """Make httpcore's per-request `import sniffio` fail at once when sniffio is not installed.

    httpcore 1.0.9 asks `current_async_library()` on every lock and event it sets up (several
    per request), and that function runs `import sniffio`. anyio 4.x no longer depends on
    sniffio, so here it is missing, and a failed import is not cached: each one searched every
    entry of sys.path again, 14 % of a fallback call's CPU in a py-spy profile (issue 14).
    `None` in `sys.modules` is Python's documented way to say "no such module": the import
    then raises ImportError at once, and httpcore takes its asyncio branch as before. Only
    done when the module really cannot be found, so an installed sniffio is used as usual.
    """
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


_remember_sniffio_is_missing()


# Time kept back from each request's timeouts, so that it ends before the deadline does.
DEADLINE_MARGIN_S: Final = 0.010
# Below this much time left, a request (or its retry) is not started.
MIN_REQUEST_S: Final = 0.020


class DeadlineReached:
    """The deadline came before this request could finish: its key is reported as timed out
    by the deadline, as if it had been cancelled there (see `KeyRun.deadline_reached`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DEADLINE_REACHED"


DEADLINE_REACHED: Final = DeadlineReached()


@dataclass(eq=False)
class FallbackWatchdog:
    """Whether the fallback still reaches any FHIR server at all.

    Tripped when `failures` requests in a row, to every host, failed to connect or timed out
    and the first of them is at least `seconds` old; any HTTP answer resets it. While tripped
    (until the next answer, or `seconds` after the trip at most) the app is not ready; on a
    trip the app replaces its client (`wait_tripped`, `rebuilt`).
    """

    failures: int
    seconds: float
    clock: Any = time.monotonic
    consecutive: int = 0
    first_failure: float | None = None
    tripped_at: float | None = None
    trips: int = 0
    _event: anyio.Event | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: FetchSettings) -> FallbackWatchdog:
        return cls(settings.watchdog_failures, settings.watchdog_seconds)

    def answered(self) -> None:
        self.consecutive, self.first_failure, self.tripped_at = 0, None, None

    def failed(self) -> None:
        now = self.clock()
        self.consecutive += 1
        if self.first_failure is None:
            self.first_failure = now
        if (
            self.tripped_at is None
            and self.consecutive >= self.failures
            and now - self.first_failure >= self.seconds
        ):
            self.tripped_at = now
            self.trips += 1
            if self._event is not None:
                self._event.set()

    def unready_reason(self) -> str | None:
        """Why the app should not be considered ready, while the watchdog is tripped."""
        if self.tripped_at is None:
            return None
        if self.clock() - self.tripped_at >= self.seconds:
            self.answered()  # a rebuilt client had its chance; report afresh if it fails too
            return None
        return (
            f"FHIR fallback unavailable: the last {self.consecutive} requests to every FHIR "
            "server failed to connect or timed out; the HTTP client was rebuilt"
        )

    async def wait_tripped(self) -> None:
        while self.tripped_at is None or self.consecutive == 0:
            self._event = anyio.Event()
            await self._event.wait()

    def rebuilt(self) -> None:
        """A new client replaced the wedged one: count its failures afresh, but stay
        unready until it answers (or `seconds` pass)."""
        self.consecutive, self.first_failure = 0, None


@dataclass(eq=False)
class _Guard:
    """What bounds one client's requests: a limiter per FHIR server and one for all, both
    below the pool size, and the watchdog its requests report to."""

    max_connections: int
    per_server: int
    watchdog: FallbackWatchdog
    _servers: dict[tuple[bytes, bytes, int | None], anyio.CapacityLimiter] = field(
        default_factory=dict
    )
    _total: anyio.CapacityLimiter | None = None

    def limiters(self, url: httpx.URL) -> tuple[anyio.CapacityLimiter, anyio.CapacityLimiter]:
        origin = (url.raw_scheme, url.raw_host, url.port)
        server = self._servers.get(origin)
        if server is None:
            server = self._servers[origin] = anyio.CapacityLimiter(self.per_server)
        if self._total is None:
            self._total = anyio.CapacityLimiter(max(1, self.max_connections - 1))
        return server, self._total


_GUARDS: weakref.WeakKeyDictionary[httpx.AsyncClient, _Guard] = weakref.WeakKeyDictionary()
_HTTPX_DEFAULT_MAX_CONNECTIONS: Final = 100


def new_fhir_client(
    settings: FetchSettings | None = None, watchdog: FallbackWatchdog | None = None
) -> httpx.AsyncClient:
    """A client to share across requests, so that connections to the EHR are reused.

    It holds no credentials: every call passes its own headers. Redirects are not followed,
    so a token is never replayed to a URL the service did not choose. Its pool holds
    `max_connections`; `get_page` keeps its requests per server below that.
    """
    settings = settings or FetchSettings()
    limits = httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_connections,
        keepalive_expiry=settings.keepalive_expiry_s,
    )
    client = _FhirClient(
        headers={"Accept": FHIR_JSON},
        follow_redirects=False,
        transport=fhir_transport(limits),
    )
    _GUARDS[client] = _Guard(
        settings.max_connections,
        settings.max_requests_per_server,
        watchdog or FallbackWatchdog.from_settings(settings),
    )
    return client


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing and sends nothing.

    The client is shared by every caller of the process: a cookie one FHIR server set in an
    answer to one user's call would go out with later calls of other users (a session cookie,
    say). FHIR calls here carry their authority in the bearer token alone (SPEC-09), so no
    cookie is kept. It is also cheaper: httpx wraps every response in urllib objects to look
    for Set-Cookie (6 % of a fallback call's CPU in a py-spy profile, issue 14)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None

    def set(self, name: str, value: str, domain: str = "", path: str = "/") -> None:
        return None


class _FhirClient(httpx.AsyncClient):
    """httpx's client, without its cookie jar (see `_NoCookies`)."""

    _no_cookies: Final = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("the FHIR client keeps no cookies")


def watchdog_of(client: httpx.AsyncClient, settings: FetchSettings) -> FallbackWatchdog:
    return _guard(client, settings).watchdog


def _guard(client: httpx.AsyncClient, settings: FetchSettings) -> _Guard:
    """The client's guard; a client not made by `new_fhir_client` gets one for httpx's
    default pool size."""
    guard = _GUARDS.get(client)
    if guard is None:
        per_server = min(settings.max_requests_per_server, _HTTPX_DEFAULT_MAX_CONNECTIONS - 1)
        guard = _GUARDS[client] = _Guard(
            _HTTPX_DEFAULT_MAX_CONNECTIONS, per_server, FallbackWatchdog.from_settings(settings)
        )
    return guard


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


# Failures of a connection before the server could have acted on the GET: retried once.
_RETRIED = (httpx.ConnectError, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)


async def get_page(
    client: httpx.AsyncClient,
    url: str,
    *,
    template: PrefetchTemplate,
    headers: dict[str, str],
    settings: FetchSettings,
    deadline: float = math.inf,
) -> Page | Problem | DeadlineReached:
    """One GET, read as an answer to `template`'s query, ended by `deadline` (a
    `time.perf_counter()` value) at the latest: then `DEADLINE_REACHED`."""
    guard = _guard(client, settings)
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL:
        return Problem(Failure.CONNECTION, "request failed (invalid URL)")
    server, total = guard.limiters(target)
    acquired = False
    with anyio.move_on_after(_left(deadline)):  # waiting for a limiter is safe to cancel
        await server.acquire()
        try:
            await total.acquire()
        except BaseException:
            server.release()
            raise
        acquired = True
    if not acquired:
        return DEADLINE_REACHED
    try:
        return await _exchange(
            client, target, template, headers, settings, deadline, guard.watchdog
        )
    finally:
        total.release()
        server.release()


def _left(deadline: float) -> float:
    return deadline - time.perf_counter()


async def _exchange(
    client: httpx.AsyncClient,
    url: httpx.URL,
    template: PrefetchTemplate,
    headers: dict[str, str],
    settings: FetchSettings,
    deadline: float,
    watchdog: FallbackWatchdog,
) -> Page | Problem | DeadlineReached:
    configured = settings.request_timeout_ms / 1000
    for attempt in (1, 2):
        budget = min(configured, _left(deadline) - DEADLINE_MARGIN_S)
        if budget < MIN_REQUEST_S:
            return DEADLINE_REACHED
        try:
            answer = await _read(client, url, headers, httpx.Timeout(budget), settings)
        except httpx.TimeoutException:
            watchdog.failed()
            if budget < configured:  # the deadline's timeout, not the request's own
                return DEADLINE_REACHED
            return Problem(Failure.TIMEOUT, f"timeout after {settings.request_timeout_ms} ms")
        except _RETRIED as error:
            watchdog.failed()
            if attempt == 1 and _left(deadline) - DEADLINE_MARGIN_S >= MIN_REQUEST_S:
                continue
            if isinstance(error, httpx.ConnectError):
                return Problem(Failure.CONNECTION, "connection to fhirServer failed")
            return Problem(Failure.CONNECTION, f"request failed ({type(error).__name__})")
        except httpx.HTTPError as error:
            watchdog.failed()
            return Problem(Failure.CONNECTION, f"request failed ({type(error).__name__})")
        except anyio.get_cancelled_exc_class():
            watchdog.failed()  # the backstop had to end it: it did not end by itself
            raise
        watchdog.answered()
        if isinstance(answer, Problem):
            return answer
        return await _page(*answer, template)
    raise AssertionError("unreachable")  # pragma: no cover


async def _read(
    client: httpx.AsyncClient,
    url: httpx.URL,
    headers: dict[str, str],
    timeout: httpx.Timeout,
    settings: FetchSettings,
) -> tuple[int, bytes] | Problem:
    """Status and body, read no further than `max_answer_bytes` (issue 10: a 50 MB answer took
    memory that was never released and the call's whole deadline)."""
    cap = settings.max_answer_bytes
    too_large = Problem(Failure.TOO_LARGE, f"answer over the {_mebibytes(cap)} limit")
    async with client.stream(
        "GET", url, headers=headers, timeout=timeout, follow_redirects=False
    ) as response:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            return too_large
        body = bytearray()
        async for chunk in response.aiter_bytes():  # decoded: a gzip bomb is capped too
            body += chunk
            if len(body) > cap:
                return too_large
        return response.status_code, bytes(body)


def _mebibytes(count: int) -> str:
    return f"{count / (1024 * 1024):g} MiB"


# Answers up to this size are decoded on the event loop; larger ones in a worker thread, so
# that one large answer does not stall the other callers.
_INLINE_DECODE_BYTES = 256 * 1024


async def _page(status: int, body: bytes, template: PrefetchTemplate) -> Page | Problem:
    if len(body) <= _INLINE_DECODE_BYTES:
        decoded = _json(body)
    else:
        decoded = await anyio.to_thread.run_sync(_json, body)
    if status != 200:
        return _status_problem(status, decoded)
    if decoded is None:
        return Problem(Failure.UNREADABLE, "unreadable JSON")
    return read_answer(decoded, template)


def _json(body: bytes) -> Any:
    """The answer read as strictly as a request body: bad JSON, another encoding, NaN, half a
    surrogate pair (which would reach a card and fail its encoding) or absurd nesting make the
    answer unreadable."""
    try:
        return decode_json(body)
    except InvalidJson:
        return None


def _status_problem(status: int, body: Any) -> Problem:
    if 300 <= status < 400:
        # Never followed (the client sets follow_redirects=False): the token must not reach
        # another origin, and a redirect must not turn into a request the caller steered.
        # Its Location is not kept: it names a place the service did not choose to go.
        return Problem(Failure.REDIRECT, f"HTTP {status} redirect not followed", status)
    outcome = operation_outcome_reason(body)
    reason = f"HTTP {status}" if outcome is None else f"HTTP {status} ({outcome})"
    return Problem(Failure.HTTP_STATUS, reason, http_status=status)
