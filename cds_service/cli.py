"""`cds-service serve`: thin, so the CLI and the API run the same code."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

import uvicorn
from pydantic import ValidationError

from cds_service.log_safety import SingleLineFormatter
from cds_service.settings import Settings

DEV_BANNER = """
############################################################################
#  aza-advisor DEVELOPMENT MODE: no JWT verification, CORS open to the     #
#  CDS Hooks sandbox. Never expose this to real patient data.              #
############################################################################
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cds-service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the CDS Hooks service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--dev", action="store_true", help="local try-it mode (no JWT)")
    return parser


def configure_logging() -> None:
    """Our own lines at INFO; the HTTP client's only from WARNING, because its INFO lines print
    request URLs, and the FHIR queries' URLs carry patient ids (no PHI in logs). Each record is
    one line however a value slipped into it (issue 10): see log_safety."""
    handler = logging.StreamHandler()
    handler.setFormatter(SingleLineFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(handlers=[handler])
    logging.getLogger().setLevel(logging.INFO)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


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
        print(DEV_BANNER, file=sys.stderr)
    uvicorn.run(
        "cds_service.http.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
