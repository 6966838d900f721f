"""The floor the service is measured against (issue 14): a bare Starlette endpoint that decodes
the same JSON body with the standard library and answers a tiny JSON document, served by uvicorn
like the service. Any route, so the same URL is posted to both.

    uvicorn benchmarks.echo:app --workers N
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def echo(request: Request) -> JSONResponse:
    decoded = json.loads(await request.body())
    return JSONResponse({"cards": [], "keys": len(decoded)})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/{path:path}", echo, methods=["POST"]),
    ]
)
