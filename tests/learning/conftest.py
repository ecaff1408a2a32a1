"""Shared set-up for the learning loop's tests: a store with a campaign."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cluster.config import Config, load_config
from imap.feedback import FeedbackEvent
from imap.feedback_table import FeedbackTable
from storage.objects import RawStore
from storage.root import StorageRoot
from tests.cluster.conftest import launch  # noqa: F401 - the platform fixture
from tests.conftest import FIXTURES

USER = "test@example.com"


def learning_config(store: Path, **learning: Any) -> Config:
    """Small budgets and minimums, so a whole loop fits in a test."""
    settings = {
        "min_new_labels": 10,
        "min_per_class": 1,
        "min_interval_s": 0,
        "epochs": 4,
        "learning_rate": 1e-3,
        "feedback_weight": 3,
        "replay_size": 40,
        "holdout_fraction": 0.25,
        "gate_min_feedback": 2,
        "canary_min_feedback": 3,
        "cpus_per_worker": 1,
        "torch_threads": 2,
        "poll_interval_s": 1,
        "rollout_poll_s": 0.5,
        "shadow_flush_interval_s": 0.5,
        **learning,
    }
    return load_config(
        storage={"root": str(store)},
        training={"batch_size": 8},
        learning=settings,
    )


def snapshot_tiny_corpus(root: StorageRoot) -> None:
    """What ``mailray train`` leaves: eval and replay datasets."""
    from training.corpus import walk_corpus
    from training.dataset import texts_of
    from training.labelled import snapshot_corpus

    examples = walk_corpus(FIXTURES / "tiny-corpus")
    texts = dict(zip((e.path for e in examples), texts_of(examples), strict=True))
    snapshot_corpus(root, examples, texts)


def store_messages(root: StorageRoot, prefix: str, raws: list[bytes]) -> list[str]:
    """Put raw messages where the pipeline would; returns their queue ids."""
    store = RawStore(root)
    ids = []
    for index, raw in enumerate(raws):
        queue_id = f"{prefix}{index:06d}"
        store.put(queue_id, raw)
        ids.append(queue_id)
    return ids


def give_feedback(root: StorageRoot, labels: dict[str, str], user: str = USER):
    """Labels as the IMAP server records them when a user moves mail."""
    now = datetime.now(UTC)
    FeedbackTable(root).write(
        [
            FeedbackEvent(
                user=user,
                queue_id=queue_id,
                message_id=f"<{queue_id}@test>",
                label=label,
                source="imap-move",
                mailbox="Junk" if label == "spam" else "INBOX",
                created_at=now,
                model_score=None,
                model_label=None,
                model_version=None,
            )
            for queue_id, label in labels.items()
        ]
    )


def publish_copy(registry, tmp_path: Path, version: str, threshold: float) -> str:
    """The bootstrap network under another version name and threshold."""
    import json
    import shutil

    from storage.registry import BUNDLED_DIR, bundled_versions

    folder = tmp_path / version
    shutil.copytree(BUNDLED_DIR / bundled_versions()[-1], folder)
    spec = json.loads((folder / "model.json").read_text())
    spec["threshold"] = threshold
    (folder / "model.json").write_text(json.dumps(spec))
    return registry.publish(folder, metrics={}, lineage={}, version=version)


def send(smtp: str, raws: list[bytes], to: str = USER) -> None:
    """Deliver over SMTP, as any sender would."""
    import smtplib

    host, _, port = smtp.rpartition(":")
    with smtplib.SMTP(host, int(port), timeout=60) as client:
        for raw in raws:
            client.sendmail("sender@outside.example", [to], raw)
