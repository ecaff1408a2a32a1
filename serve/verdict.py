"""The classifier's answer, as stored with every message."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Verdict:
    """A spam verdict that explains itself.

    ``spam_score`` is the model's probability of spam; ``label`` compares it
    with the model's operating threshold. Per-recipient decisions (their own
    threshold, allow and block lists) are made later and recorded with the
    delivery, not here.
    """

    spam_score: float
    label: str
    """``"spam"`` or ``"ham"``."""
    model_version: str
    threshold: float
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "spam_score": self.spam_score,
            "label": self.label,
            "model_version": self.model_version,
            "threshold": self.threshold,
            "reasons": list(self.reasons),
        }
