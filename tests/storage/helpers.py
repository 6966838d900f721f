"""Builders shared by the storage tests: feedback items, cards as the service answers them,
and running async store calls from plain tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

from cds_service.cards.extension import EXTENSION_KEY
from cds_service.feedback import HookAnswer, IssuedCardRecorder
from cds_service.protocol import Card, FeedbackItem
from cds_service.protocol.response import Source

T = TypeVar("T")

POLICY = {"id": "seed-2026", "version": "2026.1"}


def item(
    card: str, outcome: str = "overridden", at: str = "2026-11-22T10:00:00Z", **extra: Any
) -> FeedbackItem:
    body: dict[str, Any] = {"card": card, "outcome": outcome, "outcomeTimestamp": at, **extra}
    if outcome == "accepted" and "acceptedSuggestions" not in body:
        body["acceptedSuggestions"] = [{"id": "s-1"}]
    return FeedbackItem.model_validate(body)


def overridden(card: str, code: str, at: str = "2026-11-22T10:00:00Z") -> FeedbackItem:
    reason = {"reason": {"system": "https://aza.example/override", "code": code}}
    return item(card, "overridden", at, overrideReason=reason)


def card(recommendation: str | None, uuid: str | None = None) -> Card:
    extension = (
        None
        if recommendation is None
        else {EXTENSION_KEY: {"recommendation": recommendation, "policy": POLICY}}
    )
    values: dict[str, Any] = {
        "summary": f"advice {recommendation}",
        "indicator": "info",
        "source": Source(label="aza-advisor"),
        "extension": extension,
    }
    if uuid is not None:
        values["uuid"] = uuid
    return Card(**values)


def run(function: Callable[..., Awaitable[T]], *args: Any) -> T:
    return anyio.run(function, *args)


def record(recorder: IssuedCardRecorder, *answers: HookAnswer) -> None:
    """Queue `answers` and let the recorder write them all, as the app's task does."""

    async def go() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(recorder.run)
            await anyio.sleep(0)
            for answer in answers:
                recorder.note(answer)
            await recorder.drain(seconds=30)

    anyio.run(go)
