"""The store stage without Ray: flush, de-duplication, spool, delivery."""

from __future__ import annotations

from ingest.types import StoredMessage
from storage.sql import connect
from storage.tables import Tables
from storage.writer import StoreWriter
from tests.storage.conftest import classified, dead_letter


async def _writer(config, delivered=None) -> StoreWriter:
    writer = StoreWriter(config, store_queue=None, delivery=delivered)
    await writer.start()
    return writer


async def test_flushed_messages_are_queryable_with_verdicts(config, spool):
    items = [classified("plain.eml"), classified("with-attachment.eml", 0.9)]
    for item in items:
        spool.write(item.received)
    writer = await _writer(config)
    writer.add(items)
    await writer.flush()

    con = connect(config)
    rows = con.sql(
        "SELECT subject, label, model_version, spam_score, date, "
        "len(attachment_sha256s) FROM messages ORDER BY subject"
    ).fetchall()
    assert [r[0] for r in rows] == ["Lunch on Friday?", "The report"]
    assert [r[1] for r in rows] == ["ham", "spam"]
    assert {r[2] for r in rows} == {"test-v1"}
    assert str(rows[0][4]) == "2024-05-06"
    assert rows[1][5] == 1
    assert con.sql("SELECT filename FROM attachments").fetchall() == [("report.pdf",)]
    assert list(spool.pending()) == []


async def test_replayed_messages_are_stored_exactly_once(config):
    item = classified("plain.eml")
    first = await _writer(config)
    first.add([item])
    await first.flush()

    restarted = await _writer(config)
    restarted.add([item, item])
    await restarted.flush()
    assert (await restarted.stats())["duplicates_skipped"] == 2
    assert connect(config).sql("SELECT count(*) FROM messages").fetchone() == (1,)


async def test_dead_letters_are_stored_with_their_error(config):
    writer = await _writer(config)
    letter = dead_letter("plain.eml")
    writer.add([letter])
    await writer.flush()
    con = connect(config)
    assert con.sql("SELECT stage, error, attempts FROM dead_letters").fetchall() == [
        ("classify", "RuntimeError: model down", 5)
    ]
    assert con.sql("SELECT count(*) FROM messages").fetchone() == (0,)


async def test_delivery_hook_gets_stored_messages_after_flush(config):
    delivered: list[StoredMessage] = []
    writer = await _writer(config, delivered.extend)
    item = classified("plain.eml")
    writer.add([item])
    await writer.flush()
    [stored] = delivered
    assert stored.queue_id == item.queue_id
    assert stored.raw_key == f"objects/raw/{item.queue_id[:2]}/{item.queue_id}.eml"
    assert stored.size == len(item.received.raw)


async def test_many_flushes_are_compacted_into_one_file(config):
    writer = await _writer(config)
    for _ in range(4):
        writer.add([classified("plain.eml")])
        await writer.flush()
    tables = Tables(writer._root)
    files = tables.files("messages", "date=2024-05-06")
    live = set(files) - tables.superseded("messages")
    assert len(live) <= 2
    assert connect(config).sql("SELECT count(*) FROM messages").fetchone() == (4,)
