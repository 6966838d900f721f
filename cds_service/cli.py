"""`cds-service serve | migrate | feedback-report | evaluate`: thin, so the CLI and the API run
the same code."""

from __future__ import annotations

import argparse
import copy
import logging
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from types import FrameType

import uvicorn
from pydantic import ValidationError

from cds_service.observability.logs import LOG_CONFIG, configure_logging
from cds_service.observability.multiproc import metrics_directory
from cds_service.settings import Settings

__all__ = ["DEV_BANNER", "configure_logging", "main"]

log = logging.getLogger("cds_service.cli")

DEV_BANNER = (
    "aza-advisor DEVELOPMENT MODE: tokens are verified only when [[clients]] are configured, "
    "CORS is open to the CDS Hooks sandbox, http FHIR servers are allowed. Never expose this "
    "to real patient data."
)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["evaluate"]:
        # Its own parser, so that `evaluate --help` shows its options; imported here because
        # the pipeline it loads must not be imported before `serve` has prepared the metrics.
        from cds_service.offline import main_evaluate

        return main_evaluate(arguments[1:])
    args = _parser().parse_args(arguments)
    if args.command == "serve":
        return _serve(args)
    if args.command in ("migrate", "feedback-report"):
        # Imported here: storage commands need no web stack, and serve no report.
        from cds_service.storage.commands import feedback_report, migrate

        return migrate() if args.command == "migrate" else feedback_report(args.since, args.format)
    return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cds-service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the CDS Hooks service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--dev", action="store_true", help="local try-it mode (no JWT)")
    commands.add_parser(
        "migrate",
        help="upgrade the database (database_url) to this release's schema; once per "
        "deployment, before its instances start",
    )
    report = commands.add_parser(
        "feedback-report",
        help="cards issued, accepted, overridden and ignored per recommendation, and the "
        "override reasons",
    )
    report.add_argument("--since", type=date.fromisoformat, metavar="DATE", help="YYYY-MM-DD")
    report.add_argument("--format", choices=("table", "json", "csv"), default="table")
    commands.add_parser(
        "evaluate",
        help="evaluate a Bundle or hook request offline and show the cards "
        "(cds-service evaluate --help)",
    )
    return parser


def _serve(args: argparse.Namespace) -> int:
    configure_logging()
    if args.dev:
        # Workers are separate processes: they read the mode from the environment.
        os.environ["AZA_DEV"] = "true"
    try:
        settings = Settings()
    except (ValidationError, ValueError, OSError) as error:
        print(f"configuration refused: {error}", file=sys.stderr)
        return 1
    refusal = settings.production_refusal()
    if refusal is not None:
        print(refusal, file=sys.stderr)
        return 1
    if settings.dev:
        log.warning(DEV_BANNER)  # a log line like any other: JSON
    if settings.feedback_database is not None:
        log.warning("feedback_database is deprecated: set database_url = sqlite:///PATH")
    from cds_service.storage.commands import prepare_schema

    problem = prepare_schema(settings)  # before any worker starts: SQLite migrates here, once
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    # Before uvicorn starts: each worker reads the directory from the environment when it
    # imports prometheus-client (observability.multiproc).
    with metrics_directory(), _sigterm_unwinds():
        uvicorn.run(
            "cds_service.http.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            proxy_headers=True,
            access_log=settings.access_log,
            log_config=copy.deepcopy(LOG_CONFIG),  # applied again in every worker process
        )
    return 0


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """SIGTERM ends the process by an exception, so that the `finally` blocks around the
    server run (the metrics directory's removal). uvicorn handles the signal itself while it
    serves, then raises it again once shut down; with the default handler that would kill the
    process on the spot."""

    def unwind(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, unwind)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    raise SystemExit(main())
