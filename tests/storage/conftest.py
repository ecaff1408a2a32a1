"""Records for store-stage tests, built by the real parser."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cluster.config import load_config
from ingest.mime import parse_message
from ingest.records import ClassifiedWork, DeadLetter
from ingest.spool import Spool, new_queue_id
from ingest.types import ReceivedMessage
from serve.verdict import Verdict

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ingest"


def received(name: str, when: datetime | None = None) -> ReceivedMessage:
    return ReceivedMessage(
        queue_id=new_queue_id(),
        mail_from="sender@example.org",
        rcpt_tos=("test@example.com",),
        received_at=when or datetime(2024, 5, 6, 12, 0, tzinfo=UTC),
        peer="127.0.0.1",
        raw=(FIXTURES / name).read_bytes(),
    )


def classified(name: str, score: float = 0.1) -> ClassifiedWork:
    message = received(name)
    return ClassifiedWork(
        received=message,
        parsed=parse_message(message.raw),
        verdict=Verdict(
            spam_score=score,
            label="spam" if score >= 0.5 else "ham",
            model_version="test-v1",
            threshold=0.5,
            reasons=("test",),
        ),
    )


def dead_letter(name: str) -> DeadLetter:
    return DeadLetter(
        received=received(name),
        stage="classify",
        error="RuntimeError: model down",
        attempts=5,
        failed_at=datetime(2024, 5, 6, 12, 1, tzinfo=UTC),
    )


@pytest.fixture
def config(tmp_path):
    return load_config(
        storage={"root": str(tmp_path / "store")},
        smtp={"spool_dir": str(tmp_path / "spool")},
        pipeline={"compact_min_files": 3, "retry_base_s": 0.01},
    )


@pytest.fixture
def spool(config) -> Spool:
    return Spool(config.smtp.spool_dir)
