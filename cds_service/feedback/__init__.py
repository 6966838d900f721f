"""What clinicians did with the cards: feedback, the cards issued, and the report on both."""

from cds_service.feedback.issued import HookAnswer, IssuedCardRecorder, patient_hash
from cds_service.feedback.store import FeedbackStore, StoredCount

__all__ = ["FeedbackStore", "HookAnswer", "IssuedCardRecorder", "StoredCount", "patient_hash"]
