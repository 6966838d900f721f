"""Cards: Assessment + hook context -> CDS Hooks cards (pure; no I/O, no web framework)."""

from cds_service.cards.catalogue import Catalogue, load_catalogue
from cds_service.cards.extension import EXTENSION_KEY
from cds_service.cards.render import CardContext, render_card, render_cards

__all__ = [
    "EXTENSION_KEY",
    "CardContext",
    "Catalogue",
    "load_catalogue",
    "render_card",
    "render_cards",
]
