"""Durable feedback storage: what clinicians did with the cards."""

from cds_service.feedback.store import FeedbackStore, StoredCount

__all__ = ["FeedbackStore", "StoredCount"]
