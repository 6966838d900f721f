"""Medication records of one drug -> its exposure intervals; the current combination.

MedicationRequests rarely carry end dates, so renewals of the same drug at most
`renewal_gap_days` apart form one course (decision-spec §7), unless a stop falls between two
of them (§10); infusions at most `administration_window_days` apart form one course, still
running while the latest is that recent (§2). A stopped record ends every course that was last
confirmed before the stop. Spans are then merged into their union, oldest first; an unknown
start sorts first and stays unknown, so an overlap is never longer than the record proves.

Ends carry two bounds (§10): `end`, the earliest day the span may have ended (durations count
it), and `latest_end`, the latest, when that is later: a partial end's last day, or `UNKNOWN_END`
when only the last recorded use is known (never a guessed end on the start or order date).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from fhir_mappings.facts import DrugClass, Exposure, Interval, MatchedBy
from fhir_mappings.frozen import fast_init
from fhir_mappings.medications import MedicationRecord

UNKNOWN_END = date.max  # `Interval.latest_end` of a span that ended on an unknown date


@fast_init
@dataclass(frozen=True, slots=True)
class _Span:
    start: date | None
    end: date | None  # None: running to the evaluation date; else the earliest possible end
    last_seen: date | None  # the latest date a record confirmed use
    references: tuple[str, ...]
    latest_end: date | None = None  # later bound of the end, as `Interval.latest_end`

    @property
    def end_known(self) -> bool:
        return self.latest_end != UNKNOWN_END

    @property
    def latest(self) -> date | None:
        """The latest day the span may have ended (None: running)."""
        return self.latest_end or self.end


def exposure_of(
    drug: DrugClass,
    records: Sequence[MedicationRecord],
    *,
    evaluated_on: date,
    renewal_gap_days: int,
    administration_window_days: int,
) -> Exposure:
    """All of one drug's records joined into its exposure (records of other drugs: a bug)."""
    infusion_window_days = administration_window_days if drug is DrugClass.INFLIXIMAB else None
    of_kind = {kind: [r for r in records if r.kind == kind] for kind in _KINDS}
    spans = [
        *map(_statement_span, of_kind["MedicationStatement"]),
        *_request_courses(of_kind["MedicationRequest"], renewal_gap_days, _chain_breaks(records)),
        *_administration_spans(
            of_kind["MedicationAdministration"], evaluated_on, infusion_window_days
        ),
    ]
    stops = [r for r in records if r.status == "stopped" and r.end is not None]
    merged = _union(_apply_stops(spans, stops))
    intervals = tuple(
        Interval(s.start, s.end, s.references, s.latest_end if s.latest != s.end else None)
        for s in merged
    )
    active = bool(intervals) and intervals[-1].end is None
    end_known = bool(merged) and merged[-1].end_known
    return Exposure(
        drug=drug,
        intervals=intervals,
        active=active,
        stopped_on=intervals[-1].end if intervals and not active and end_known else None,
        matched_by_name=tuple(r.reference for r in records if r.drug.matched_by is MatchedBy.NAME),
    )


_KINDS = ("MedicationStatement", "MedicationRequest", "MedicationAdministration")


def _statement_span(record: MedicationRecord) -> _Span:
    references = (record.reference,)
    if record.running:
        return _Span(record.start, None, record.confirmed, references)
    if record.end is None:  # ended on an unknown date: only the last recorded use is known
        return _Span(record.start, record.confirmed, record.confirmed, references, UNKNOWN_END)
    return _Span(record.start, record.end, record.confirmed, references, record.latest_end)


def _chain_breaks(records: Sequence[MedicationRecord]) -> list[date]:
    """Where a course of renewals was interrupted (decision-spec §10): the end of a stopped or
    completed statement or request, at its earliest possible day. Infusions are single days
    of use, not interruptions."""
    return sorted(
        r.end
        for r in records
        if r.kind != "MedicationAdministration"
        and r.status in ("stopped", "completed")
        and r.end is not None
    )


def _request_courses(
    records: Sequence[MedicationRecord], gap_days: int, breaks: Sequence[date] = ()
) -> list[_Span]:
    """Requests ordered by date, split where renewals are too far apart, where one was
    stopped, or where a recorded end (`breaks`) falls between two of them: a course restarted
    after a stop is a new course, however soon the restart came."""
    ordered = sorted(records, key=lambda r: (r.start or date.min, r.reference))
    groups: list[list[MedicationRecord]] = []
    for record in ordered:
        previous = groups[-1][-1] if groups else None
        if (
            previous is not None
            and previous.status != "stopped"
            and record.start is not None
            and previous.start is not None
            and (record.start - previous.start).days <= gap_days
            and not any(previous.start <= end < record.start for end in breaks)
        ):
            groups[-1].append(record)
        else:
            groups.append([record])
    return [_request_course(group) for group in groups]


def _request_course(group: Sequence[MedicationRecord]) -> _Span:
    """Earliest to latest renewal; a finished course ends with its validity period if recorded,
    otherwise on an unknown date after the latest renewal (never guessed as the authoredOn)."""
    latest, references = group[-1], tuple(r.reference for r in group)
    if latest.running:
        return _Span(group[0].start, None, latest.start, references)
    ended = [r for r in group if r.end is not None]
    validity_end = max((r.end for r in ended if r.end is not None), default=None)
    if validity_end is not None and latest.start is not None and validity_end >= latest.start:
        latest_end = max(r.latest_end or validity_end for r in ended)
        return _Span(group[0].start, validity_end, latest.start, references, latest_end)
    return _Span(group[0].start, latest.start, latest.start, references, UNKNOWN_END)


def _administration_spans(
    records: Sequence[MedicationRecord], evaluated_on: date, window_days: int | None
) -> list[_Span]:
    """Infusions; for infliximab, infusions within the window chain and may still be running."""
    if window_days is None:
        return [_Span(r.start, r.start, r.start, (r.reference,)) for r in records]
    ordered = sorted(records, key=lambda r: (r.start or date.min, r.reference))
    spans: list[_Span] = []
    for record in ordered:
        given = record.start
        last = spans[-1] if spans else None
        if (
            last is not None
            and given
            and last.last_seen
            and (given - last.last_seen).days <= window_days
        ):
            spans[-1] = replace(
                last, end=given, last_seen=given, references=(*last.references, record.reference)
            )
        else:
            spans.append(_Span(given, given, given, (record.reference,)))
    return [
        replace(span, end=None)
        if span.last_seen and 0 <= (evaluated_on - span.last_seen).days <= window_days
        else span
        for span in spans
    ]


def _apply_stops(spans: Sequence[_Span], stops: Sequence[MedicationRecord]) -> list[_Span]:
    """A stop ends each running span last confirmed on or before the stop date."""
    ordered = sorted((r.end, r.latest_end, r.reference) for r in stops if r.end is not None)
    result: list[_Span] = []
    for span in spans:
        if span.end is None:
            for stopped, latest_end, reference in ordered:
                if span.last_seen is None or span.last_seen <= stopped:
                    references = (*span.references, reference)
                    span = replace(span, end=stopped, latest_end=latest_end, references=references)
                    break
        result.append(span)
    return result


def _union(spans: Sequence[_Span]) -> list[_Span]:
    """Merged spans, oldest first."""
    merged: list[_Span] = []
    for span in sorted(spans, key=lambda s: (s.start or date.min, s.references)):
        if merged and _touches(merged[-1], span.start):
            merged[-1] = _joined(merged[-1], span)
        else:
            merged.append(span)
    return merged


def _joined(first: _Span, then: _Span) -> _Span:
    """Two touching spans as one. Its end is the later end; it is unknown only when every span
    ending then has an unknown end (a known end on or after an unknown one settles it), and its
    latest possible end is the latest of the known ones (a partial end may reach further)."""
    references = tuple(dict.fromkeys((*first.references, *then.references)))
    if first.end is None or then.end is None:
        return _Span(first.start, None, None, references)
    end = max(first.end, then.end)
    last_seen = max(filter(None, (first.last_seen, then.last_seen)), default=None)
    known = [s for s in (first, then) if s.end_known]
    if not any(s.end == end for s in known):
        return _Span(first.start, end, last_seen, references, UNKNOWN_END)
    latest_end = max(s.latest or end for s in known)
    return _Span(first.start, end, last_seen, references, latest_end)


def _touches(span: _Span, start: date | None) -> bool:
    """Overlapping or on consecutive days (subtracting: date.max + 1 day would overflow)."""
    return span.end is None or start is None or (start - span.end).days <= 1


def combination(exposures: Mapping[DrugClass, Exposure], evaluated_on: date) -> Interval | None:
    """The current infliximab + thiopurine overlap, running to the evaluation date."""
    infliximab = exposures.get(DrugClass.INFLIXIMAB)
    thiopurine = exposures.get(DrugClass.THIOPURINE)
    if not (infliximab and thiopurine and infliximab.active and thiopurine.active):
        return None
    current = (infliximab.intervals[-1], thiopurine.intervals[-1])
    starts = [interval.start for interval in current]
    start = None if None in starts else max(s for s in starts if s is not None)
    if start is not None and start > evaluated_on:
        return None
    return Interval(start, None, tuple(ref for i in current for ref in i.references))
