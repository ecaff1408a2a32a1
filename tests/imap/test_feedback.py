"""Junk moves and flags become labels in tables/feedback, queryable with DuckDB."""

from __future__ import annotations

import time

import duckdb
import pytest
from typer.testing import CliRunner

from imap.feedback_table import FeedbackTable
from imap.prefs import record_feedback
from tests.imap.conftest import USER, simple_message


def feedback_rows(imap_server, count: int, timeout_s: float = 10.0) -> list[dict]:
    pattern = imap_server.root.path("tables/feedback/*/*.parquet")
    deadline = time.monotonic() + timeout_s
    while True:
        if imap_server.root.fs.glob(pattern):
            relation = duckdb.sql(
                "SELECT * EXCLUDE (created_at), "
                "strftime(created_at, '%Y-%m-%d') AS created_day "
                f"FROM read_parquet('{pattern}', hive_partitioning = true) "
                "ORDER BY created_at"
            )
            rows = [
                dict(zip(relation.columns, row, strict=True))
                for row in relation.fetchall()
            ]
            if len(rows) >= count:
                return rows
        if time.monotonic() > deadline:
            pytest.fail(f"expected {count} feedback rows")
        time.sleep(0.1)


def test_move_into_junk_records_spam_with_the_model_verdict(
    imap_server, client
) -> None:
    record = imap_server.deliver(simple_message("hi"), spam_score=0.2)[0]
    client.select("INBOX")
    client.uid("MOVE", "1", "Junk")
    (row,) = feedback_rows(imap_server, 1)
    assert row["user"] == USER
    assert row["queue_id"] == record.queue_id
    assert (row["label"], row["source"], row["mailbox"]) == (
        "spam",
        "imap-move",
        "Junk",
    )
    assert (row["model_score"], row["model_label"], row["model_version"]) == (
        0.2,
        "ham",
        "test-v1",
    )
    assert str(row["date"]) == row["created_day"]


def test_out_of_junk_is_ham_but_into_trash_is_no_label(imap_server, client) -> None:
    imap_server.deliver(simple_message("a"), spam_score=0.9)
    imap_server.deliver(simple_message("b"), spam_score=0.9)
    client.select("Junk")
    client.copy("1", "Trash")
    client.copy("2", "INBOX")
    (row,) = feedback_rows(imap_server, 1)
    assert (row["label"], row["source"], row["model_label"]) == (
        "ham",
        "imap-copy",
        "spam",
    )


def test_junk_keywords_record_labels(imap_server, client) -> None:
    imap_server.deliver(simple_message())
    client.select("INBOX")
    client.store("1", "+FLAGS", "($Junk)")
    client.store("1", "+FLAGS", "($NotJunk)")
    rows = feedback_rows(imap_server, 2)
    assert [(r["label"], r["source"]) for r in rows] == [
        ("spam", "imap-flag"),
        ("ham", "imap-flag"),
    ]


def test_append_into_junk_refers_to_the_delivered_original(imap_server, client) -> None:
    raw = simple_message("synced")
    record = imap_server.deliver(raw, spam_score=0.3)[0]
    client.append("Junk", None, None, raw)
    (row,) = feedback_rows(imap_server, 1)
    assert (row["label"], row["source"], row["queue_id"]) == (
        "spam",
        "imap-append",
        record.queue_id,
    )
    assert row["model_score"] == 0.3


def test_python_api_and_cli_record_labels(imap_server) -> None:
    from cluster.cli import app
    from imap import commands

    record = imap_server.deliver(simple_message("api"))[0]
    store = imap_server.server.server.store
    event = record_feedback(store, USER, record.queue_id, "spam")
    assert event.model_version == "test-v1"
    FeedbackTable(imap_server.root).drain(store)

    commands.register(app)
    env = {
        "MAILRAY_IMAP_METADATA_PATH": imap_server.config.imap.metadata_path,
        "MAILRAY_STORAGE_ROOT": imap_server.config.storage.root,
        "MAILRAY_USERS": "[]",
    }
    result = CliRunner().invoke(
        app,
        ["feedback", "--user", USER, "--message-id", record.queue_id, "--label", "ham"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    rows = feedback_rows(imap_server, 2)
    assert sorted((r["label"], r["source"]) for r in rows) == [
        ("ham", "cli"),
        ("spam", "api"),
    ]


def test_feedback_is_a_table_for_mailray_query(imap_server, client) -> None:
    from storage.sql import connect

    imap_server.deliver(simple_message())
    client.select("INBOX")
    client.store("1", "+FLAGS", "($Junk)")
    feedback_rows(imap_server, 1)
    con = connect(imap_server.root)
    assert con.sql(
        "SELECT label, count(*) FROM feedback GROUP BY label"
    ).fetchall() == [("spam", 1)]
