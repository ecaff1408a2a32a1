"""The models one classifier replica holds, kept in step with the rollout.

:class:`ReplicaModels` loads the serving version (and, during a canary,
the candidate) when the replica starts, then a watcher thread re-reads
``models/serving.json`` and ``models/rollout.json`` every
``learning.rollout_poll_s`` and swaps in a new :class:`ModelPair` when
they change. Loading happens on that thread, never on the replica's event
loop; the swap is one assignment, so requests keep flowing through a
promotion or a rollback.

A candidate that cannot be loaded is logged and left out: the replica
keeps serving stable verdicts rather than failing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from cluster.config import Config
from serve.canary import key_of_text, next_pair, score_pair, wanted_versions
from serve.errors import ModelLoadError
from serve.model import SpamModel
from serve.rollout_state import RolloutState, read_state
from serve.shadow import ShadowLog
from serve.verdict import Verdict
from storage.registry import ModelRegistry, RegistryError
from storage.root import StorageRoot

log = logging.getLogger("mailray.serve")


class ReplicaModels:
    """Stable and candidate models of a replica, following the rollout."""

    def __init__(self, config: Config, watch: bool = True) -> None:
        self.config = config
        self.root = StorageRoot.from_config(config.storage)
        self.registry = ModelRegistry(self.root)
        self.shadows = ShadowLog(self.root, config.learning.shadow_flush_interval_s)
        self._swap_lock = threading.RLock()
        self._stop = threading.Event()
        self._unloadable: set[str] = set()

        # The stable model must load, or the replica must not start.
        self.pair = next_pair(None, self._wanted(read_state(self.root)), self._load)
        self._watcher: threading.Thread | None = None
        if watch:
            self._watcher = threading.Thread(
                target=self._watch, name="mailray-rollout-watch", daemon=True
            )
            self._watcher.start()

    def _load(self, version: str) -> SpamModel:
        settings = self.config.classifier
        return SpamModel.load(
            self.registry.local_path(version),
            dtype=settings.dtype,
            version=version,
            torch_threads=settings.torch_threads,
            batch_tokens=settings.batch_tokens,
        )

    def _wanted(self, state: RolloutState) -> tuple[str, str | None, float]:
        stable = self.config.classifier.model_version or self.registry.serving_version()
        return wanted_versions(stable, state)

    def apply(self, state: RolloutState) -> bool:
        """Hold the models ``state`` asks for; returns whether anything changed.

        Blocking (it may load a model): call it off the event loop.
        """
        with self._swap_lock:
            wanted = self._wanted(state)
            if wanted[1] in self._unloadable:
                wanted = (wanted[0], None, 0.0)
            if wanted == self.pair.versions:
                return False
            try:
                pair = next_pair(self.pair, wanted, self._load)
            except (ModelLoadError, RegistryError) as exc:
                if wanted[1] is None:
                    raise
                # Tried once: the watcher must not reload it every round.
                self._unloadable.add(wanted[1])
                log.error("candidate %s cannot be loaded: %s", wanted[1], exc)
                return self.apply(state)
            before, self.pair = self.pair.versions, pair
        log.info("replica models %s -> %s", before, pair.versions)
        return True

    def apply_user_config(self, user_config: dict[str, Any]) -> bool:
        """Serve's ``reconfigure``: the same state as a plain dict."""
        return self.apply(RolloutState.from_json(user_config))

    def _watch(self) -> None:
        while not self._stop.wait(self.config.learning.rollout_poll_s):
            try:
                self.root.fs.invalidate_cache()
                self.apply(read_state(self.root))
            except Exception:
                # The replica keeps what it has; the next round tries again.
                log.exception("following the rollout failed")

    def score(self, texts: Sequence[str], keys: Sequence[str | None]) -> list[Verdict]:
        """Verdicts for a batch; shadow verdicts go to the log (blocking)."""
        pair = self.pair
        routing = [k or key_of_text(t) for k, t in zip(keys, texts, strict=True)]
        verdicts, shadows = score_pair(pair, texts, routing)
        # Only mail with a queue id can meet feedback later.
        kept = [s for s, key in zip(shadows, keys, strict=False) if key]
        if kept:
            self.shadows.add(kept)
        return verdicts

    def close(self) -> None:
        self._stop.set()
        self.shadows.close()
