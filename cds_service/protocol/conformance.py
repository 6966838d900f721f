"""A checker for CDS Hooks 2.0 responses and discovery documents, working on the raw JSON.

It is deliberately independent of our pydantic models: it checks what actually went over the
wire, so a serialisation bug cannot hide behind a model that "should" have prevented it. Every
violation names its checklist ID from `shared/cds-hooks-notes.md`. The test suite runs it on
every response; integrators can run it on theirs.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

_TOKEN = re.compile(r"\{\{([^}]*)\}\}")
_ALLOWED_TOKENS = frozenset(
    {"userPractitionerId", "userPractitionerRoleId", "userPatientId", "userRelatedPersonId"}
)
_HTML = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$", re.MULTILINE)


def check_response(body: Any) -> list[str]:
    """Every way `body` (a decoded hook response) breaks CDS Hooks 2.0; empty when conformant."""
    if not isinstance(body, dict) or not isinstance(body.get("cards"), list):
        return ["SPEC-16: response must be an object with a cards array"]
    problems = list(_empty_values(body, "$", keep={"$.cards"}))
    for index, card in enumerate(body["cards"]):
        problems += _check_card(card, f"cards[{index}]")
    for index, action in enumerate(body.get("systemActions", [])):
        problems += _check_action(action, f"systemActions[{index}]", "SPEC-27")
    return problems


def check_discovery(body: Any) -> list[str]:
    """Every way `body` (a decoded discovery document) breaks CDS Hooks 2.0."""
    if not isinstance(body, dict) or not isinstance(body.get("services"), list):
        return ["SPEC-03: discovery must be an object with a services array"]
    problems = list(_empty_values(body, "$", keep={"$.services"}))
    for index, service in enumerate(body["services"]):
        where = f"services[{index}]"
        for field in ("hook", "description", "id"):
            if not isinstance(service.get(field), str):
                problems.append(f"SPEC-05: {where}.{field} must be a string")
        for key, template in (service.get("prefetch") or {}).items():
            problems += _check_template(template, f"{where}.prefetch.{key}")
    return problems


def _check_template(template: Any, where: str) -> list[str]:
    if not isinstance(template, str):
        return [f"SPEC-05: {where} must be a string"]
    problems = []
    for token in _TOKEN.findall(template):
        name = token.strip()
        if not (name.startswith("context.") or name in _ALLOWED_TOKENS):
            problems.append(f"SPEC-06: {where} uses token {{{{{name}}}}}")
    return problems


def _check_card(card: Any, where: str) -> list[str]:
    if not isinstance(card, dict):
        return [f"SPEC-18: {where} must be an object"]
    problems = []
    summary = card.get("summary")
    if not isinstance(summary, str) or not 0 < len(summary) < 140:
        problems.append(f"SPEC-18: {where}.summary must be a string under 140 characters")
    if card.get("indicator") not in ("info", "warning", "critical"):
        problems.append(f"SPEC-18: {where}.indicator must be info, warning or critical")
    source = card.get("source")
    if not isinstance(source, dict) or not isinstance(source.get("label"), str):
        problems.append(f"SPEC-18: {where}.source.label is required")
    else:
        problems += [
            f"SPEC-25: {where}.source.{field} must be an absolute URL"
            for field in ("url", "icon")
            if field in source and not _is_absolute(source[field])
        ]
    problems += _check_detail(card.get("detail"), where)
    if not _is_uuid(card.get("uuid")):
        problems.append(f"SPEC-26: {where}.uuid must be a UUID")
    problems += _check_suggestions(card, where)
    for index, reason in enumerate(card.get("overrideReasons", [])):
        if not all(isinstance(reason.get(key), str) for key in ("code", "system", "display")):
            problems.append(f"SPEC-23: {where}.overrideReasons[{index}] needs code/system/display")
    for index, link in enumerate(card.get("links", [])):
        problems += _check_link(link, f"{where}.links[{index}]")
    return problems


def _check_detail(detail: Any, where: str) -> list[str]:
    if detail is None:
        return []
    if not isinstance(detail, str):
        return [f"SPEC-19: {where}.detail must be markdown text"]
    problems = []
    if _HTML.search(detail):
        problems.append(f"SPEC-19: {where}.detail contains HTML")
    if _TABLE_ROW.search(detail):
        problems.append(f"SPEC-19: {where}.detail contains a markdown table")
    return problems


def _check_suggestions(card: dict[str, Any], where: str) -> list[str]:
    suggestions = card.get("suggestions", [])
    problems = []
    behaviour = card.get("selectionBehavior")
    if suggestions and behaviour not in ("at-most-one", "any"):
        problems.append(f"SPEC-20: {where} has suggestions without a valid selectionBehavior")
    if sum(1 for s in suggestions if s.get("isRecommended")) > 1 and behaviour != "any":
        problems.append(f"SPEC-21: {where} recommends several suggestions without 'any'")
    for index, suggestion in enumerate(suggestions):
        here = f"{where}.suggestions[{index}]"
        if not isinstance(suggestion.get("label"), str):
            problems.append(f"SPEC-21: {here}.label is required")
        if not _is_uuid(suggestion.get("uuid")):
            problems.append(f"SPEC-26: {here}.uuid must be a UUID")
        for number, action in enumerate(suggestion.get("actions", [])):
            problems += _check_action(action, f"{here}.actions[{number}]", "SPEC-22")
    return problems


def _check_action(action: Any, where: str, spec: str) -> list[str]:
    if not isinstance(action, dict) or action.get("type") not in ("create", "update", "delete"):
        return [f"{spec}: {where}.type must be create, update or delete"]
    problems = []
    if not isinstance(action.get("description"), str):
        problems.append(f"{spec}: {where}.description is required")
    if action["type"] in ("create", "update") and not isinstance(action.get("resource"), dict):
        problems.append(f"{spec}: {where} ({action['type']}) needs a resource")
    if action["type"] == "delete" and not isinstance(action.get("resourceId"), str):
        problems.append(f"{spec}: {where} (delete) needs resourceId")
    return problems


def _check_link(link: Any, where: str) -> list[str]:
    if not isinstance(link, dict):
        return [f"SPEC-24: {where} must be an object"]
    problems = []
    if not isinstance(link.get("label"), str) or not _is_absolute(link.get("url")):
        problems.append(f"SPEC-24: {where} needs a label and an absolute url")
    if link.get("type") not in ("absolute", "smart"):
        problems.append(f"SPEC-24: {where}.type must be absolute or smart")
    if "appContext" in link and link.get("type") != "smart":
        problems.append(f"SPEC-24: {where}.appContext is only allowed on smart links")
    if "autolaunchable" in link and not isinstance(link["autolaunchable"], bool):
        problems.append(f"SPEC-24: {where}.autolaunchable must be a boolean")
    return problems


def _empty_values(value: Any, path: str, keep: set[str]) -> Iterator[str]:
    if value is None:
        yield f"SPEC-02: {path} is null"
    elif isinstance(value, str | list | dict) and not value and path not in keep:
        yield f"SPEC-02: {path} is empty"
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _empty_values(item, f"{path}.{key}", keep)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _empty_values(item, f"{path}[{index}]", keep)


def _is_absolute(url: Any) -> bool:
    return isinstance(url, str) and url.startswith(("https://", "http://"))


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
