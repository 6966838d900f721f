"""`cds-service feedback-report`: what was advised and what clinicians did with it (issue 13).

Per recommendation: cards issued, and of those accepted, overridden or ignored (no feedback).
A card's outcome is that of its latest feedback (by outcomeTimestamp), so a card accepted then
overridden counts once, as overridden. The override reasons are those of the overridden cards,
with counts. Feedback on cards the service has no record of issuing is counted apart, under
`(unknown card)`: it is real feedback, but no recommendation can be attributed to it.

`--since DATE` keeps the cards issued on or after that day (UTC) and, for unknown cards, the
feedback given on or after it. The report reads only; the query runs in the database.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, and_, case, func, literal, select, true

from cds_service.storage import Database, feedback, issued_cards

UNKNOWN_CARD = "(unknown card)"
NO_RECOMMENDATION = "(none)"
NO_REASON = "(no reason given)"


@dataclass(frozen=True, slots=True)
class RecommendationCounts:
    recommendation: str
    issued: int
    accepted: int
    overridden: int
    ignored: int


@dataclass(frozen=True, slots=True)
class ReasonCount:
    recommendation: str
    system: str | None
    code: str
    count: int


@dataclass(frozen=True, slots=True)
class Report:
    since: date | None
    recommendations: list[RecommendationCounts] = field(default_factory=list)
    override_reasons: list[ReasonCount] = field(default_factory=list)
    feedback_items: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "feedback_items": self.feedback_items,
            "recommendations": [asdict(row) for row in self.recommendations],
            "override_reasons": [asdict(row) for row in self.override_reasons],
        }


def build_report(database: Database, since: date | None = None) -> Report:
    return database.run(lambda connection: _query(connection, since))


def _query(connection: Connection, since: date | None) -> Report:
    start = datetime.combine(since, time(), tzinfo=UTC) if since else None
    rank = (
        func.row_number()
        .over(
            partition_by=feedback.c.card_uuid,
            order_by=(
                feedback.c.outcome_at.desc(),
                feedback.c.received_at.desc(),
                feedback.c.item_key.desc(),
            ),
        )
        .label("rank")
    )
    ranked = select(
        feedback.c.card_uuid,
        feedback.c.outcome,
        feedback.c.outcome_at,
        feedback.c.override_reason_system,
        feedback.c.override_reason_code,
        rank,
    ).subquery()
    latest = select(ranked).where(ranked.c.rank == 1).subquery()
    issued_since = issued_cards.c.issued_at >= start if start else true()
    recommendation = func.coalesce(issued_cards.c.recommendation, NO_RECOMMENDATION)
    joined = issued_cards.outerjoin(latest, latest.c.card_uuid == issued_cards.c.card_uuid)

    def outcome_count(outcome: str | None) -> Any:
        test = latest.c.outcome.is_(None) if outcome is None else latest.c.outcome == outcome
        return func.sum(case((test, 1), else_=0))

    per_issued = connection.execute(
        select(
            recommendation,
            func.count(),
            outcome_count("accepted"),
            outcome_count("overridden"),
            outcome_count(None),
        )
        .select_from(joined)
        .where(issued_since)
        .group_by(recommendation)
        .order_by(recommendation)
    ).all()
    rows = [RecommendationCounts(str(r[0]), *(int(v or 0) for v in r[1:])) for r in per_issued]

    unknown_filter = and_(
        ~select(issued_cards.c.card_uuid)
        .where(issued_cards.c.card_uuid == latest.c.card_uuid)
        .exists(),
        latest.c.outcome_at >= start if start else true(),
    )
    unknown = connection.execute(
        select(outcome_count("accepted"), outcome_count("overridden"), func.count())
        .select_from(latest)
        .where(unknown_filter)
    ).one()
    if unknown[2]:
        accepted, overridden = int(unknown[0] or 0), int(unknown[1] or 0)
        rows.append(RecommendationCounts(UNKNOWN_CARD, 0, accepted, overridden, 0))

    reason_code = func.coalesce(latest.c.override_reason_code, NO_REASON)
    known_reasons = connection.execute(
        select(recommendation, latest.c.override_reason_system, reason_code, func.count())
        .select_from(joined)
        .where(issued_since, latest.c.outcome == "overridden")
        .group_by(recommendation, latest.c.override_reason_system, reason_code)
    ).all()
    unknown_reasons = connection.execute(
        select(literal(UNKNOWN_CARD), latest.c.override_reason_system, reason_code, func.count())
        .where(unknown_filter, latest.c.outcome == "overridden")
        .group_by(latest.c.override_reason_system, reason_code)
    ).all()
    reasons = sorted(
        (
            ReasonCount(str(r[0]), r[1], str(r[2]), int(r[3]))
            for r in (*known_reasons, *unknown_reasons)
        ),
        key=lambda r: (r.recommendation, -r.count, r.code),
    )
    items_filter = feedback.c.outcome_at >= start if start else true()
    items = connection.execute(select(func.count()).select_from(feedback).where(items_filter))
    return Report(since, rows, reasons, int(items.scalar_one()))


def render_json(report: Report) -> str:
    return json.dumps(report.as_json(), indent=2)


CSV_COLUMNS = ("recommendation", "measure", "reason_system", "reason_code", "count")


def render_csv(report: Report) -> str:
    """One tidy table: a row per (recommendation, measure), the override reasons as rows of
    measure `override_reason`, so that a spreadsheet or pandas can pivot it as it likes."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.recommendations:
        for measure in ("issued", "accepted", "overridden", "ignored"):
            writer.writerow((row.recommendation, measure, "", "", getattr(row, measure)))
    for reason in report.override_reasons:
        writer.writerow(
            (
                reason.recommendation,
                "override_reason",
                reason.system or "",
                reason.code,
                reason.count,
            )
        )
    return out.getvalue()


def render_table(report: Report, console: Console) -> None:
    since = f" since {report.since.isoformat()}" if report.since else ""
    cards = Table(title=f"Cards and what was done with them{since}")
    cards.add_column("recommendation")
    for name in ("issued", "accepted", "overridden", "ignored"):
        cards.add_column(name, justify="right")
    for row in report.recommendations:
        cards.add_row(
            row.recommendation,
            *(str(v) for v in (row.issued, row.accepted, row.overridden, row.ignored)),
        )
    console.print(cards)
    reasons = Table(title=f"Override reasons{since}")
    for name in ("recommendation", "reason", "system"):
        reasons.add_column(name)
    reasons.add_column("count", justify="right")
    for reason in report.override_reasons:
        reasons.add_row(reason.recommendation, reason.code, reason.system or "", str(reason.count))
    console.print(reasons)
    console.print(f"{report.feedback_items} feedback items{since}")
