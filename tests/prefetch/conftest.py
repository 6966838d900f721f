"""Fixtures for tests that need an EHR's FHIR server: `fhir_server` (a live loopback server,
see `fhir_server.py`), `closed_port_url` (a URL nobody listens on) and `http_client`."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from cds_service.prefetch import new_fhir_client
from tests.prefetch.fhir_server import FhirTestServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fhir_server() -> Iterator[FhirTestServer]:
    with FhirTestServer() as server:
        yield server


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL whose port was just released, so connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/fhir"


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with new_fhir_client() as client:
        yield client
