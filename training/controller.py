"""The training controller: trigger, fine-tune, gate, canary, promote.

:class:`LearningLoop` is the whole loop as plain code; each :meth:`tick`
reads the rollout state and either asks the trigger policy whether to
train (idle) or asks the canary policy what to do with the candidate
(canary). Every transition is written to ``models/rollout.json`` atomically
before anything acts on it, and recorded in ``tables/model_events``. The
classifier replicas follow the state file, so a promotion or rollback is
a state write; nothing is redeployed and no request is dropped.

A controller that starts and finds ``phase == "training"`` (it crashed
mid-run) abandons that run: the serving model never changed.

:class:`LearningController` runs the loop as a Ray actor in ``mailray up``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cluster.config import Config
from serve.rollout import Action, CanaryPolicy, Decision
from serve.rollout import decide as canary_decide
from serve.rollout_state import RolloutState, iso, parse_iso, read_state, write_state
from storage.registry import ModelRegistry
from storage.root import StorageRoot
from training.canary_evidence import canary_evidence
from training.events import ModelEvent, record
from training.labelled import read_feedback, since
from training.trigger import TriggerPolicy
from training.trigger import decide as trigger_decide

log = logging.getLogger("mailray.training")

ACTOR_NAME = "mailray.learning"

_EVENT_OF_ACTION = {
    Action.ADVANCE: "advanced",
    Action.PROMOTE: "promoted",
    Action.ROLLBACK: "rolled_back",
    Action.ABANDON: "abandoned",
}


def trigger_policy(config: Config) -> TriggerPolicy:
    learning = config.learning
    schedule = learning.schedule_s
    return TriggerPolicy(
        min_new_labels=learning.min_new_labels,
        min_per_class=learning.min_per_class,
        max_class_ratio=learning.max_class_ratio,
        schedule=timedelta(seconds=schedule) if schedule else None,
        min_interval=timedelta(seconds=learning.min_interval_s),
    )


def canary_policy(config: Config) -> CanaryPolicy:
    learning = config.learning
    return CanaryPolicy(
        steps=tuple(learning.canary_steps),
        min_feedback=learning.canary_min_feedback,
        tolerance=learning.canary_tolerance,
        max_step_duration=timedelta(seconds=learning.canary_max_step_s),
    )


def canary_transition(
    state: RolloutState, decision: Decision, steps: tuple[float, ...], now: datetime
) -> RolloutState:
    """The state after a canary decision (pure; HOLD returns ``state``)."""
    if decision.action == Action.HOLD:
        return state
    if decision.action == Action.ADVANCE:
        return state.with_changes(
            now,
            step=state.step + 1,
            fraction=steps[state.step + 1],
            step_started_at=iso(now),
        )
    # Promote, roll back, abandon: back to one model.
    return state.with_changes(
        now,
        phase="idle",
        candidate_version=None,
        step=0,
        fraction=0.0,
        step_started_at=None,
    )


class LearningLoop:
    """The continuous-training state machine over one storage root."""

    def __init__(
        self,
        config: Config,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        flip_labels: bool = False,
        skip_gate: bool = False,
    ) -> None:
        self.config = config
        self.root = StorageRoot.from_config(config.storage)
        self.registry = ModelRegistry(self.root)
        self.clock = clock
        # Sabotage drills only (see training.candidate.build_candidate).
        self.flip_labels = flip_labels
        self.skip_gate = skip_gate
        self.last_action = "started"
        self.timings: dict[str, float] = {}

    # -- state ---------------------------------------------------------------

    def state(self) -> RolloutState:
        return read_state(self.root)

    def _event(self, event: str, version: str, reason: str, **metrics: Any) -> None:
        state = self.state()
        record(
            self.root,
            ModelEvent(
                at=self.clock(),
                event=event,
                version=version,
                parent_version=self.registry.serving_version(),
                fraction=state.fraction,
                reason=reason,
                metrics=metrics,
            ),
        )

    def resume(self) -> None:
        """At start-up: abandon a run that a crash interrupted."""
        state = self.state()
        if state.phase == "training":
            now = self.clock()
            write_state(self.root, state.with_changes(now, phase="idle"))
            log.warning("a training run was interrupted; abandoned it")
            self.last_action = "abandoned an interrupted training run"

    # -- one round -----------------------------------------------------------

    def tick(self) -> str:
        """One round of the loop; returns what it did, in words."""
        state = self.state()
        if state.phase == "canary":
            self.last_action = self._canary_round(state)
        elif state.phase == "idle":
            self.last_action = self._idle_round(state)
        else:
            self.last_action = "training in progress"
        return self.last_action

    def _idle_round(self, state: RolloutState) -> str:
        now = self.clock()
        labels = read_feedback(self.root)
        trained_until = parse_iso(state.trained_until)
        new = since(labels, trained_until)
        decision = trigger_decide(
            trigger_policy(self.config), new, parse_iso(state.last_trained_at), now
        )
        if not decision.train:
            return f"waiting: {decision.reason}"
        return self.train_now(labels, new, state, decision.reason)

    def train_now(self, labels, new, state: RolloutState, why: str) -> str:
        """Train, gate and (if it passes) start the canary."""
        from training.candidate import build_candidate

        now = self.clock()
        window_end = max(e.recorded_at for e in new)
        write_state(self.root, state.with_changes(now, phase="training"))
        parent = self.registry.serving_version()
        earlier = [e for e in labels if e not in set(new)]
        try:
            outcome = build_candidate(
                self.config,
                self.root,
                self.registry,
                parent,
                new,
                earlier,
                flip_labels=self.flip_labels,
                skip_gate=self.skip_gate,
            )
        except Exception as exc:
            # The serving model is untouched; the labels wait for a later run.
            log.exception("fine-tuning from %s failed", parent)
            write_state(
                self.root,
                state.with_changes(
                    self.clock(), phase="idle", last_trained_at=iso(now)
                ),
            )
            return f"training failed: {exc!r}"

        after = self.clock()
        trained = state.with_changes(
            after, phase="idle", trained_until=iso(window_end), last_trained_at=iso(now)
        )
        self.timings["train_s"] = outcome.metrics.get("fit_s", 0.0)
        self.timings["gate_s"] = outcome.metrics.get("gate_s", 0.0)
        if not outcome.passed:
            write_state(self.root, trained)
            self._event("rejected", outcome.version, outcome.reason, **outcome.metrics)
            return f"rejected {outcome.version}: {outcome.reason}"

        steps = tuple(self.config.learning.canary_steps)
        write_state(
            self.root,
            trained.with_changes(
                after,
                phase="canary",
                candidate_version=outcome.version,
                step=0,
                fraction=steps[0],
                step_started_at=iso(after),
            ),
        )
        self._event(
            "canary",
            outcome.version,
            f"{why}; gate: {outcome.reason}",
            **outcome.metrics,
        )
        return f"canary {outcome.version} at {steps[0]:.2f}"

    def _canary_round(self, state: RolloutState) -> str:
        now = self.clock()
        candidate = state.candidate_version
        assert candidate is not None  # a canary state always names one
        started = parse_iso(state.step_started_at) or now
        evidence = canary_evidence(self.root, candidate, started)
        policy = canary_policy(self.config)
        decision = canary_decide(policy, state.step, evidence, started, now)
        if decision.action == Action.HOLD:
            return f"holding {candidate}: {decision.reason}"
        figures = {
            "n": evidence.n,
            "candidate_agree": evidence.candidate_agree,
            "stable_agree": evidence.stable_agree,
            "step": state.step,
        }
        self._apply(state, decision, now, figures)
        return f"{decision.action.value} {candidate}: {decision.reason}"

    def _apply(
        self,
        state: RolloutState,
        decision: Decision,
        now: datetime,
        figures: dict[str, Any],
    ) -> None:
        candidate = state.candidate_version
        assert candidate is not None
        if decision.action == Action.PROMOTE:
            # Serving first: if the state write is lost, the next round sees
            # a canary whose candidate already serves and promotes again.
            self.registry.set_serving(candidate)
        steps = tuple(self.config.learning.canary_steps)
        write_state(self.root, canary_transition(state, decision, steps, now))
        event = _EVENT_OF_ACTION[decision.action]
        record(
            self.root,
            ModelEvent(
                at=now,
                event=event,
                version=candidate,
                parent_version=None,
                fraction=decision.next_fraction or state.fraction,
                reason=decision.reason,
                metrics=figures,
            ),
        )

    # -- operator commands ---------------------------------------------------

    def promote(self, reason: str = "promoted by an operator") -> str:
        state = self.state()
        if not state.canary_active:
            raise ValueError("no candidate is in canary")
        self._apply(state, Decision(Action.PROMOTE, reason, 1.0), self.clock(), {})
        return f"promoted {state.candidate_version}"

    def rollback(self, reason: str = "rolled back by an operator") -> str:
        state = self.state()
        if not state.canary_active:
            raise ValueError("no candidate is in canary")
        self._apply(state, Decision(Action.ROLLBACK, reason), self.clock(), {})
        return f"rolled back {state.candidate_version}"

    def status(self) -> dict[str, Any]:
        state = self.state()
        return {
            "serving_version": self.registry.serving_version(),
            **state.to_json(),
            "last_action": self.last_action,
        }


class LearningController:
    """Ray actor: runs :class:`LearningLoop` in the background.

    Ticks run on a worker thread, so the actor still answers ``status``,
    ``promote`` and ``rollback`` while a fine-tuning run is in progress.
    """

    def __init__(self, config: Config) -> None:
        self.loop = LearningLoop(config)
        self.interval_s = config.learning.poll_interval_s
        self._lock = threading.Lock()
        self.loop.resume()

    def _locked(self, fn: Callable[[], Any]) -> Any:
        with self._lock:
            return fn()

    async def run(self) -> None:
        """Tick forever; an error in one round is logged and the next runs."""
        while True:
            try:
                what = await asyncio.to_thread(self._locked, self.loop.tick)
                log.debug("learning: %s", what)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "learning round failed; next round in %.0fs", self.interval_s
                )
            await asyncio.sleep(self.interval_s)

    async def status(self) -> dict[str, Any]:
        return await asyncio.to_thread(self.loop.status)

    async def stats(self) -> dict[str, Any]:
        """What ``mailray status`` shows for this loop."""
        return await self.status()

    async def promote(self) -> str:
        return await asyncio.to_thread(self._locked, self.loop.promote)

    async def rollback(self) -> str:
        return await asyncio.to_thread(self._locked, self.loop.rollback)
