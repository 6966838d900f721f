"""The directory of prometheus-client's multiprocess mode, for `cds-service serve` (issue 11).

Each uvicorn worker is a process with its own counters; prometheus-client's multiprocess mode
has them write to files in `PROMETHEUS_MULTIPROC_DIR`, which a scrape adds up. The variable
must be set before any worker imports prometheus-client (it picks the mode at import), so the
command line sets it before uvicorn starts. Unless the operator named a directory, it is a
fresh private one (mode 0700, made by `tempfile.mkdtemp`), so no earlier run's counts are
added in and no other user can write fake ones, and it is removed when the server stops. A
server killed outright (SIGKILL) cannot remove it: its name carries the server's pid, and the
next server removes the directories of dead servers of the same user.

This module does not import prometheus-client: the command line uses it first.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

_PREFIX = "aza-advisor-metrics-"


@contextmanager
def metrics_directory() -> Iterator[Path]:
    """The multiprocess directory for the served process and its workers, for the block."""
    given = os.environ.get(VARIABLE)
    if given:
        # The operator's: kept (and not emptied: it may be shared with a sidecar's tooling).
        path = Path(given)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        yield path
        return
    _remove_abandoned()
    path = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
    os.environ[VARIABLE] = str(path)
    try:
        yield path
    finally:
        del os.environ[VARIABLE]
        shutil.rmtree(path, ignore_errors=True)


def _remove_abandoned() -> None:
    """The directories that servers of this user, now dead, left in the temporary folder."""
    for path in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*-*"):
        pid = path.name.removeprefix(_PREFIX).split("-", 1)[0]
        try:
            mine = path.is_dir() and path.stat().st_uid == os.getuid()
        except OSError:
            continue
        if mine and pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def alive(pid: int) -> bool:
    """Whether process `pid` exists (perhaps another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
