"""Filling a prefetch template's tokens from the hook context (SPEC-06).

A template whose token cannot be filled is never sent with `{{...}}` in it: the caller gets
the names of the unfilled tokens and reports the key as skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

TOKEN = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
"""A prefetch token; the spec allows no nesting and no expressions in 2.0."""

USER_TOKENS: Mapping[str, str] = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}
"""The 2.0 user tokens and the resource type `context.userId` must name for each (S2 L338)."""


@dataclass(frozen=True, slots=True)
class Unrenderable:
    """The tokens that could not be filled, for the report; never the context values."""

    tokens: tuple[str, ...]

    @property
    def reason(self) -> str:
        return "cannot fill " + ", ".join("{{" + token + "}}" for token in self.tokens)


def render_template(template: str, context: Mapping[str, Any]) -> str | Unrenderable:
    """The template with every token replaced by its URL-encoded value from `context`, as a
    query every FHIR server accepts (issue 10: `|` percent-encoded)."""
    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        value = _token_value(match.group(1), context)
        if value is None:
            missing.append(match.group(1))
            return ""
        return quote(value, safe="")

    rendered = TOKEN.sub(fill, template)
    return Unrenderable(tuple(missing)) if missing else quote(rendered, safe=_QUERY_SAFE)


# What a query may carry unencoded (RFC 3986 pchar, "/" and "?"; "%" keeps the escapes made
# above). The rest is percent-encoded: `|` in `system|code` tokens as %7C, which Tomcat-based
# FHIR servers (many HAPI deployments) refuse raw. "," stays: it is FHIR's OR separator.
_QUERY_SAFE = "/?&=,:;+@!$'()*%-._~"


def _token_value(token: str, context: Mapping[str, Any]) -> str | None:
    if token.startswith("context."):
        value = context.get(token.removeprefix("context."))
        # Only first-level primitive fields are tokens; an object (draftOrders) is not.
        return value if isinstance(value, str) and value else None
    resource_type = USER_TOKENS.get(token)
    user = context.get("userId")
    if resource_type is None or not isinstance(user, str):
        return None
    user_type, _, user_id = user.partition("/")
    return user_id if user_type == resource_type and user_id else None
