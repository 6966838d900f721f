"""A throwaway PostgreSQL server for the tests: `initdb` into a fresh temporary directory,
started with `pg_ctl` on a free loopback port (and a private socket directory), trust
authentication for its one superuser, stopped and deleted afterwards. No system service.

PostgreSQL refuses to run as root; as root the server runs as the `postgres` OS user (Debian's
package creates it), through `runuser`. Without the binaries the PostgreSQL tests are skipped
with the reason, unless AZA_REQUIRE_POSTGRES=1 (set by .ci/run), which makes that a failure.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest

REQUIRE_VARIABLE = "AZA_REQUIRE_POSTGRES"
SUPERUSER = "aza"


def binaries() -> Path | None:
    """The directory of initdb and pg_ctl: Debian's /usr/lib/postgresql/N/bin, else PATH."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    for directory in reversed(candidates):
        if (Path(directory) / "initdb").exists():
            return Path(directory)
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def unavailable(reason: str) -> None:
    """Skip, or fail when PostgreSQL is required (CI)."""
    message = f"PostgreSQL tests cannot run: {reason}"
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"{message} ({REQUIRE_VARIABLE}=1)", pytrace=False)
    pytest.skip(f"{message}; install Debian's postgresql package to run them")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    def __init__(self) -> None:
        bin_dir = binaries()
        if bin_dir is None:
            unavailable("initdb and pg_ctl not found (looked in /usr/lib/postgresql/*/bin, PATH)")
        assert bin_dir is not None
        self.bin = bin_dir
        self.prefix: list[str] = []
        self.owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self.owner = pwd.getpwnam("postgres")
            except KeyError:
                unavailable("running as root and there is no 'postgres' OS user to run it as")
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.root = Path(tempfile.mkdtemp(prefix="aza-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        if self.owner is not None:
            os.chown(self.root, self.owner.pw_uid, self.owner.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        command = [*self.prefix, str(self.bin / tool), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed: {result.stdout}{result.stderr}")

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
            "-c max_connections=200 -c fsync=off -c full_page_writes=off"
        )
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database's SQLAlchemy URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        dsn = f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)
