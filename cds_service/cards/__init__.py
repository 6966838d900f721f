"""Cards: Assessment + hook context -> CDS Hooks cards (pure; no I/O, no web framework)."""

from cds_service.cards.extension import EXTENSION_KEY
from cds_service.cards.render import DEFAULT_SOURCE_URL, CardContext, render_card, render_cards

__all__ = ["DEFAULT_SOURCE_URL", "EXTENSION_KEY", "CardContext", "render_card", "render_cards"]
