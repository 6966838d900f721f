"""A served process whose output is read as it comes, parsed as JSON lines, and a trusted
client whose signed tokens it accepts (issue 11 observability tests).

The output is drained by a thread while the test runs: a pipe fills at 64 KiB and a process
that cannot write its log would stall."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import serve_dev, served_output
from tests.security.tokens import Signer, bearer, claims, write_jwks

PUBLIC_BASE = "https://cds.example.org"
ISS = "https://ehr.example.org"
CLIENT = "st-example-ehr"
SERVICE = "aza-withdrawal-patient-view"
HOOK_PATH = f"/cds-services/{SERVICE}"


@dataclass
class Served:
    base: str
    pid: int
    output: bytearray = field(default_factory=bytearray)

    def lines(self) -> list[str]:
        return bytes(self.output).decode().splitlines()

    def records(self) -> list[dict[str, Any]]:
        """Every line as a JSON object; fails on the first line that is not one."""
        parsed = []
        for line in self.lines():
            value = json.loads(line)
            assert isinstance(value, dict), line
            parsed.append(value)
        return parsed

    def events(self, logger: str, event: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["logger"] == logger and r["event"] == event]


@contextmanager
def serve_logged(
    cwd: Path, *, args: Sequence[str] = ("--dev",), env: Mapping[str, str] | None = None
) -> Iterator[Served]:
    """`serve_dev`, with its output collected; complete once the block has ended."""
    with serve_dev(cwd, args=args, env=env) as (base, process):
        served = Served(base, process.pid)
        assert process.poll() is None, "the service did not start"
        try:
            yield served
        finally:
            process.terminate()
            process.wait(timeout=10)
            served.output += served_output(process)


@dataclass(frozen=True)
class Ehr:
    """A trusted client: its key, and the configuration that trusts it."""

    signer: Signer
    config: Path

    def authorization(self, path: str, **overrides: Any) -> dict[str, str]:
        token = self.signer.token(claims(aud=PUBLIC_BASE + path, iss=ISS, **overrides))
        return {"Authorization": bearer(token)}


def trusted_ehr(tmp_path: Path, fhir_servers: Sequence[str]) -> Ehr:
    signer = Signer.es384()
    jwks = write_jwks(tmp_path / "ehr-jwks.json", signer)
    servers = ", ".join(json.dumps(server) for server in fhir_servers)
    config = tmp_path / "aza.toml"
    config.write_text(
        f"public_base_url = {json.dumps(PUBLIC_BASE)}\n"
        "[[clients]]\n"
        f"name = {json.dumps(CLIENT)}\n"
        f"iss = {json.dumps(ISS)}\n"
        f"jwks_file = {json.dumps(str(jwks))}\n"
        f"fhir_servers = [{servers}]\n"
    )
    return Ehr(signer, config)


def served_env(ehr: Ehr | None = None) -> dict[str, str]:
    """A fallback deadline a loaded machine cannot miss, and the trusted client, if any."""
    env = {"AZA_FHIR__DEADLINE_MS": "5000", "AZA_FHIR__REQUEST_TIMEOUT_MS": "4000"}
    if ehr is not None:
        env["AZA_CONFIG_FILE"] = str(ehr.config)
    return env
