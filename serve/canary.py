"""Stable and candidate side by side inside a classifier replica.

A replica holds a :class:`ModelPair`: the stable model, and during a canary
the candidate too. Every message is scored by both (shadow scoring); the
verdict that counts is the candidate's for messages whose key (the queue
id) falls in the canary fraction (:func:`serve.rollout.routed_to_candidate`),
the stable one's otherwise. A new pair is built off the event loop and
swapped in with one assignment, so a request in flight finishes on the
pair it started with: promotion and rollback drop nothing.

Why the replicas follow ``models/rollout.json`` rather than being
redeployed: in Ray 2.60 ``serve.run`` gives the deployment a new random
code version each time (``version=`` was removed), so a new ``user_config``
through ``serve.run`` replaces every replica. The classifier's
``reconfigure(user_config)`` takes the same state and applies it in place,
and its watcher thread calls it whenever the file changes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from serve.model import SpamModel
from serve.rollout import routed_to_candidate
from serve.rollout_state import RolloutState
from serve.shadow import ShadowVerdict, now_utc
from serve.verdict import Verdict

log = logging.getLogger("mailray.serve")


@dataclass(frozen=True)
class ModelPair:
    stable: SpamModel
    candidate: SpamModel | None = None
    fraction: float = 0.0

    @property
    def versions(self) -> tuple[str, str | None, float]:
        candidate = self.candidate.version if self.candidate else None
        return self.stable.version, candidate, self.fraction


def key_of_text(text: str) -> str:
    """A routing key for a request that came without a queue id."""
    return "text:" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def label_of(score: float, threshold: float) -> str:
    return "spam" if score >= threshold else "ham"


def _verdict(model: SpamModel, score: float, extra: tuple[str, ...]) -> Verdict:
    label = label_of(score, model.threshold)
    relation = ">=" if label == "spam" else "<"
    return Verdict(
        spam_score=score,
        label=label,
        model_version=model.version,
        threshold=model.threshold,
        reasons=(
            f"model p(spam)={score:.3f} {relation} threshold {model.threshold:.3f}",
            *extra,
        ),
    )


def score_pair(
    pair: ModelPair, texts: Sequence[str], keys: Sequence[str]
) -> tuple[list[Verdict], list[ShadowVerdict]]:
    """Verdicts for ``texts`` and, during a canary, both models' answers.

    Blocking model work: call it on a worker thread.
    """
    stable_scores = pair.stable.predict(list(texts), len(texts))
    candidate = pair.candidate
    if candidate is None:
        return [_verdict(pair.stable, s, ()) for s in stable_scores], []

    candidate_scores = candidate.predict(list(texts), len(texts))
    scored_at = now_utc()
    verdicts, shadows = [], []
    for key, stable_score, candidate_score in zip(
        keys, stable_scores, candidate_scores, strict=True
    ):
        to_candidate = routed_to_candidate(key, pair.fraction)
        note = (
            f"canary {candidate.version} at {pair.fraction:.2f}: "
            f"{'candidate' if to_candidate else 'stable'} verdict counts",
        )
        if to_candidate:
            verdicts.append(_verdict(candidate, candidate_score, note))
        else:
            verdicts.append(_verdict(pair.stable, stable_score, note))
        shadows.append(
            ShadowVerdict(
                queue_id=key,
                scored_at=scored_at,
                stable_version=pair.stable.version,
                stable_score=stable_score,
                stable_label=label_of(stable_score, pair.stable.threshold),
                candidate_version=candidate.version,
                candidate_score=candidate_score,
                candidate_label=label_of(candidate_score, candidate.threshold),
                fraction=pair.fraction,
                routed_to="candidate" if to_candidate else "stable",
            )
        )
    return verdicts, shadows


def wanted_versions(
    serving_version: str, state: RolloutState
) -> tuple[str, str | None, float]:
    """(stable, candidate, fraction) a replica should hold for ``state``."""
    if state.canary_active:
        return serving_version, state.candidate_version, state.fraction
    return serving_version, None, 0.0


def next_pair(
    current: ModelPair | None,
    wanted: tuple[str, str | None, float],
    load: Callable[[str], SpamModel],
) -> ModelPair:
    """The pair for ``wanted``, reusing models already loaded (blocking)."""
    stable_version, candidate_version, fraction = wanted
    loaded: dict[str, SpamModel] = {}
    if current is not None:
        loaded[current.stable.version] = current.stable
        if current.candidate is not None:
            loaded[current.candidate.version] = current.candidate

    def get(version: str) -> SpamModel:
        if version not in loaded:
            loaded[version] = load(version)
        return loaded[version]

    stable = get(stable_version)
    candidate = get(candidate_version) if candidate_version else None
    return ModelPair(stable, candidate, fraction if candidate else 0.0)
