"""Table schemas and the pure functions that turn records into rows.

Every table lives in ``tables/<name>/date=YYYY-MM-DD/*.parquet``; the
``date`` partition is the UTC day the message was received.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pyarrow as pa

from ingest.records import ClassifiedWork, DeadLetter
from storage.objects import raw_key

_TS = pa.timestamp("us", tz="UTC")
_STRINGS = pa.list_(pa.string())

MESSAGES = pa.schema(
    [
        ("queue_id", pa.string()),
        ("received_at", _TS),
        ("peer", pa.string()),
        ("mail_from", pa.string()),
        ("rcpt_tos", _STRINGS),
        ("header_from", pa.string()),
        ("header_to", pa.string()),
        ("header_cc", pa.string()),
        ("subject", pa.string()),
        ("header_date", pa.string()),
        ("sent_at", _TS),
        ("message_id", pa.string()),
        ("in_reply_to", pa.string()),
        ("size", pa.int64()),
        ("body_text", pa.string()),
        ("html_only", pa.bool_()),
        ("spam_score", pa.float64()),
        ("label", pa.string()),
        ("model_version", pa.string()),
        ("threshold", pa.float64()),
        ("reasons", _STRINGS),
        ("attachment_sha256s", _STRINGS),
        ("defects", _STRINGS),
        ("raw_key", pa.string()),
    ]
)

ATTACHMENTS = pa.schema(
    [
        ("sha256", pa.string()),
        ("filename", pa.string()),
        ("content_type", pa.string()),
        ("size", pa.int64()),
        ("queue_id", pa.string()),
        ("received_at", _TS),
    ]
)

DEAD_LETTERS = pa.schema(
    [
        ("queue_id", pa.string()),
        ("received_at", _TS),
        ("failed_at", _TS),
        ("stage", pa.string()),
        ("error", pa.string()),
        ("attempts", pa.int64()),
        ("mail_from", pa.string()),
        ("rcpt_tos", _STRINGS),
        ("size", pa.int64()),
        ("raw_key", pa.string()),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    "messages": MESSAGES,
    "attachments": ATTACHMENTS,
    "dead_letters": DEAD_LETTERS,
}


def partition_of(received_at: datetime) -> str:
    """The hive partition folder for a UTC time: ``date=YYYY-MM-DD``."""
    return f"date={received_at.date().isoformat()}"


def message_row(work: ClassifiedWork) -> dict[str, Any]:
    received, parsed, verdict = work.received, work.parsed, work.verdict
    return {
        "queue_id": received.queue_id,
        "received_at": received.received_at,
        "peer": received.peer,
        "mail_from": received.mail_from,
        "rcpt_tos": list(received.rcpt_tos),
        "header_from": parsed.from_,
        "header_to": parsed.to,
        "header_cc": parsed.cc,
        "subject": parsed.subject,
        "header_date": parsed.date,
        "sent_at": parsed.date_utc,
        "message_id": parsed.message_id,
        "in_reply_to": parsed.in_reply_to,
        "size": len(received.raw),
        "body_text": parsed.text,
        "html_only": parsed.html_only,
        "spam_score": verdict.spam_score,
        "label": verdict.label,
        "model_version": verdict.model_version,
        "threshold": verdict.threshold,
        "reasons": list(verdict.reasons),
        "attachment_sha256s": [a.sha256 for a in parsed.attachments],
        "defects": list(parsed.defects),
        "raw_key": raw_key(received.queue_id),
    }


def attachment_rows(work: ClassifiedWork) -> list[dict[str, Any]]:
    return [
        {
            "sha256": a.sha256,
            "filename": a.filename,
            "content_type": a.content_type,
            "size": a.size,
            "queue_id": work.queue_id,
            "received_at": work.received.received_at,
        }
        for a in work.parsed.attachments
    ]


def dead_letter_row(letter: DeadLetter) -> dict[str, Any]:
    received = letter.received
    return {
        "queue_id": received.queue_id,
        "received_at": received.received_at,
        "failed_at": letter.failed_at,
        "stage": letter.stage,
        "error": letter.error,
        "attempts": letter.attempts,
        "mail_from": received.mail_from,
        "rcpt_tos": list(received.rcpt_tos),
        "size": len(received.raw),
        "raw_key": raw_key(received.queue_id),
    }


def to_table(rows: Iterable[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=schema)
