"""Issue 11 (SSRF): `fhir_server_allowed` lets through the allowlisted FHIR base in its trivial
spellings and nothing else, whatever the mutation; what it lets through, httpx reads as that
same base (no parser differential between the check and the client that connects)."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cds_service.prefetch import fhir_server_allowed
from cds_service.prefetch.trust import fhir_base

ALLOWED = "https://fhir.example.org/R4"

labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
hosts = st.lists(labels, min_size=1, max_size=4).map(".".join)
segments = st.from_regex(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,8}", fullmatch=True).filter(
    lambda s: s not in (".", "..")
)
paths = st.lists(segments, max_size=4).map(lambda parts: "".join(f"/{p}" for p in parts))
ports = st.one_of(st.none(), st.integers(1, 65535))


@st.composite
def bases(draw: st.DrawFn) -> tuple[str, str, int | None, str]:
    return draw(st.sampled_from(["http", "https"])), draw(hosts), draw(ports), draw(paths)


def url(scheme: str, host: str, port: int | None, path: str) -> str:
    return f"{scheme}://{host}{'' if port is None else f':{port}'}{path}"


def default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


@given(bases(), st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_issue11_allowlisted_base_and_trivial_spellings_allowed(
    base: tuple[str, str, int | None, str],
    upper_scheme: bool,
    upper_host: bool,
    explicit_port: bool,
    trailing_slash: bool,
) -> None:
    scheme, host, port, path = base
    allowed = url(*base)
    assert fhir_server_allowed(allowed, [allowed])
    spelled_port = default_port(scheme) if port is None and explicit_port else port
    spelling = url(
        scheme.upper() if upper_scheme else scheme,
        host.upper() if upper_host else host,
        spelled_port,
        path + "/" if trailing_slash else path,
    )
    assert fhir_server_allowed(spelling, ["https://other.example/fhir", allowed])
    assert fhir_server_allowed(allowed, [spelling])


@given(bases(), st.data())
def test_issue11_any_mutation_of_origin_or_path_refused(
    base: tuple[str, str, int | None, str], data: st.DataObject
) -> None:
    scheme, host, port, path = base
    allowed = url(*base)
    effective = port or default_port(scheme)
    other_port = data.draw(st.integers(1, 65535).filter(lambda p: p != effective))
    extra = data.draw(segments)
    label = data.draw(labels)
    mutations = [
        url("https" if scheme == "http" else "http", host, port, path),
        url(scheme, f"{host}.{label}", port, path),  # fhir.example.org.evil.com
        url(scheme, f"{label}.{host}", port, path),
        url(scheme, f"{host}{label}", port, path),
        url(scheme, f"{host}.", port, path),  # trailing dot: another DNS name to us
        url(scheme, host, other_port, path),
        url(scheme, host, port, f"{path}{extra}"),  # /R4evil
        url(scheme, host, port, f"{path}/{extra}"),
        url(scheme, host, port, f"/{extra}{path}"),
        url(scheme, host, port, f"{path}//"),
        url(scheme, host, port, f"{path}/../{extra}"),
        url(scheme, host, port, f"{path}/./"),
        url(scheme, host, port, f"{path}?x=1"),
        url(scheme, host, port, f"{path}?"),
        url(scheme, host, port, f"{path}#f"),
        url(scheme, f"{host}@{label}", port, path),
        url(scheme, f"{label}@{host}", port, path),  # userinfo, even with the right host
        url(scheme, f"{host}\\@{label}", port, path),
        url(scheme, host, port, f"{path}\\"),
        url(scheme, host, port, f"{path}%2F"),
        f"{scheme}://{host}{'' if port is None else f':{port}'}{path}".replace("://", ":///"),
    ]
    if path:
        mutations.append(url(scheme, host, port, path[:-1]))  # a prefix of the path
        mutations.append(url(scheme, host, port, path.upper() if path != path.upper() else ""))
        escaped = f"/%{ord(path[1]):02X}{path[2:]}"  # the same path, percent-encoded
        mutations.append(url(scheme, host, port, escaped))
    position = data.draw(st.integers(0, len(allowed)))
    blank = data.draw(st.sampled_from([" ", "\t", "\n", "\r", "\x00", "\x7f", "\u00a0", "\u2028"]))
    mutations.append(allowed[:position] + blank + allowed[position:])
    for mutated in mutations:
        if mutated.lower().rstrip("/") == allowed.lower().rstrip("/"):
            continue  # a mutation that happens to be a trivial spelling (e.g. path "" -> "")
        assert not fhir_server_allowed(mutated, [allowed]), mutated


@pytest.mark.parametrize(
    "server",
    [
        "https://fhir.example.org.evil.com/R4",
        "https://fhir.example.org/R4evil",
        "https://fhir.example.org/R4/../admin",
        "https://fhir.example.org/R4/%2e%2e/admin",
        "https://fhir.example.org/r4",
        "https://fhir.example.org:8443/R4",
        "http://fhir.example.org/R4",
        "https://fhir.example.org@evil.com/R4",
        "https://trusted@fhir.example.org/R4",
        "https://evil.com\\@fhir.example.org/R4",
        "https://fhir.example.org/R4?_format=json",
        "https://fhir.example.org/R4#x",
        " https://fhir.example.org/R4",
        "https://fhir.example.org/R4\n",
        "https://fhir.exam\tple.org/R4",
        "https://fhіr.example.org/R4",  # Cyrillic i
        "https://fhir.example.org./R4",
        "https://2130706433/R4",
        "https://0.0.0.0/R4",
        "https://127.0.0.1/R4",
        "https://[::1]/R4",
        "https://localhost/R4",
        "https://fhir.example.org:0/R4",
        "https://fhir.example.org:99999/R4",
        "https://fhir.example.org:/R4",
        "ftp://fhir.example.org/R4",
        "//fhir.example.org/R4",
        "fhir.example.org/R4",
        "https:/fhir.example.org/R4",
        "",
        "https://",
    ],
)
def test_issue11_known_ssrf_spellings_refused(server: str) -> None:
    assert not fhir_server_allowed(server, [ALLOWED])


@pytest.mark.parametrize(
    "server",
    [
        "https://fhir.example.org/R4",
        "https://fhir.example.org/R4/",
        "HTTPS://FHIR.Example.ORG/R4",
        "https://fhir.example.org:443/R4",
        "https://fhir.example.org:0443/R4",
    ],
)
def test_issue11_trivial_spellings_of_allowlisted_base_allowed(server: str) -> None:
    assert fhir_server_allowed(server, [ALLOWED])


def test_issue11_no_server_or_no_allowlist_or_bad_entry_allows_nothing() -> None:
    assert not fhir_server_allowed(None, [ALLOWED])
    assert not fhir_server_allowed(ALLOWED, [])
    assert not fhir_server_allowed(ALLOWED, ["https://fhir.example.org/R4?x", "not a url"])


def test_issue11_loopback_literals_allowed_only_when_listed_as_such() -> None:
    assert fhir_server_allowed("http://[::1]:8080/fhir", ["http://[::1]:8080/fhir/"])
    assert not fhir_server_allowed("http://127.0.0.1:8080/fhir", ["http://[::1]:8080/fhir"])
    assert not fhir_server_allowed("http://2130706433:8080/fhir", ["http://127.0.0.1:8080/fhir"])


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60), bases())
@example("https://fhir.example.org:443/R4/", ("https", "fhir.example.org", None, "/R4"))
@example("https://FHIR.example.org/R4", ("https", "fhir.example.org", None, "/R4"))
def test_issue11_what_is_allowed_httpx_reads_as_the_allowlisted_base(
    candidate: str, base: tuple[str, str, int | None, str]
) -> None:
    """No parser differential: whenever the check says yes, the client connects to the
    allowlisted scheme, host and port, with the allowlisted path."""
    allowed = url(*base)
    for server in (candidate, allowed[: len(allowed) // 2] + candidate, allowed + candidate):
        if not fhir_server_allowed(server, [allowed]):
            continue
        parsed, wanted = httpx.URL(server), httpx.URL(allowed)
        assert (parsed.scheme, parsed.host, parsed.port or default_port(parsed.scheme)) == (
            wanted.scheme,
            wanted.host,
            wanted.port or default_port(wanted.scheme),
        )
        assert parsed.path.rstrip("/") == wanted.path.rstrip("/")
        assert parsed.userinfo == b"" and parsed.query == b"" and parsed.fragment == ""


@given(st.text(max_size=80))
def test_issue11_never_raises_on_any_text(text: str) -> None:
    assert fhir_base(text) is None or fhir_server_allowed(text, [text])
