"""Medication records of one drug -> its exposure intervals; the current combination.

MedicationRequests rarely carry end dates, so renewals of the same drug at most
`renewal_gap_days` apart form one course (decision-spec §7); infusions at most
`administration_window_days` apart form one course, still running while the latest is that
recent (§2). A stopped record ends every course that was last confirmed before the stop.
Spans are then merged into their union, oldest first; an unknown start sorts first and stays
unknown, so an overlap is never longer than the record proves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from fhir_mappings.facts import DrugClass, Exposure, Interval, MatchedBy
from fhir_mappings.medications import MedicationRecord


@dataclass(frozen=True, slots=True)
class _Span:
    start: date | None
    end: date | None  # None: running to the evaluation date
    last_seen: date | None  # the latest date a record confirmed use
    references: tuple[str, ...]
    end_known: bool = True  # False: ended, but only the last confirmed use is on record


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
        *_request_courses(of_kind["MedicationRequest"], renewal_gap_days),
        *_administration_spans(
            of_kind["MedicationAdministration"], evaluated_on, infusion_window_days
        ),
    ]
    stops = [(r.end, r.reference) for r in records if r.status == "stopped" and r.end is not None]
    merged = _union(_apply_stops(spans, stops))
    intervals = tuple(interval for interval, _ in merged)
    active = bool(intervals) and intervals[-1].end is None
    end_known = bool(merged) and merged[-1][1]
    return Exposure(
        drug=drug,
        intervals=intervals,
        active=active,
        stopped_on=intervals[-1].end if intervals and not active and end_known else None,
        matched_by_name=tuple(r.reference for r in records if r.drug.matched_by is MatchedBy.NAME),
    )


_KINDS = ("MedicationStatement", "MedicationRequest", "MedicationAdministration")


def _statement_span(record: MedicationRecord) -> _Span:
    if record.running:
        return _Span(record.start, None, record.confirmed, (record.reference,))
    end = record.end or record.confirmed
    return _Span(record.start, end, record.confirmed, (record.reference,), record.end is not None)


def _request_courses(records: Sequence[MedicationRecord], gap_days: int) -> list[_Span]:
    """Requests ordered by date, split where renewals are too far apart or one was stopped."""
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
    validity_end = max((r.end for r in group if r.end is not None), default=None)
    if validity_end is not None and latest.start is not None and validity_end >= latest.start:
        return _Span(group[0].start, validity_end, latest.start, references)
    return _Span(group[0].start, latest.start, latest.start, references, end_known=False)


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


def _apply_stops(spans: Sequence[_Span], stops: Sequence[tuple[date, str]]) -> list[_Span]:
    """A stop ends each running span last confirmed on or before the stop date."""
    result: list[_Span] = []
    for span in spans:
        if span.end is None:
            for stopped, reference in sorted(stops):
                if span.last_seen is None or span.last_seen <= stopped:
                    span = replace(span, end=stopped, references=(*span.references, reference))
                    break
        result.append(span)
    return result


def _union(spans: Sequence[_Span]) -> list[tuple[Interval, bool]]:
    """Merged intervals, oldest first, each with whether its end date is known."""
    merged: list[tuple[Interval, bool]] = []
    for span in sorted(spans, key=lambda s: (s.start or date.min, s.references)):
        if merged and _touches(merged[-1][0], span.start):
            last, last_known = merged[-1]
            refs = tuple(dict.fromkeys((*last.references, *span.references)))
            if last.end is None or span.end is None:
                merged[-1] = (Interval(last.start, None, refs), True)
            elif span.end > last.end:
                merged[-1] = (Interval(last.start, span.end, refs), span.end_known)
            else:
                known = last_known or (span.end == last.end and span.end_known)
                merged[-1] = (Interval(last.start, last.end, refs), known)
        else:
            merged.append((Interval(span.start, span.end, span.references), span.end_known))
    return merged


def _touches(interval: Interval, start: date | None) -> bool:
    """Overlapping or on consecutive days (subtracting: date.max + 1 day would overflow)."""
    return interval.end is None or start is None or (start - interval.end).days <= 1


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
