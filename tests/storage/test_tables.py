import pyarrow as pa

from storage.root import StorageRoot
from storage.sql import connect
from storage.tables import Tables


def _table(ids):
    return pa.table({"queue_id": ids})


def test_compaction_keeps_sources_until_grace_and_views_skip_them(tmp_path):
    root = StorageRoot(url=str(tmp_path))
    tables = Tables(root)
    for queue_id in "abc":
        tables.write("messages", "date=2024-01-01", _table([queue_id]))
    assert tables.compact("messages", "date=2024-01-01", min_files=3) == 3

    # A query listing files right now can still open the merged ones...
    assert len(tables.files("messages", "date=2024-01-01")) == 4
    assert len(tables.superseded("messages")) == 3
    # ...and views count each row once.
    assert connect(root).sql("SELECT count(*) FROM messages").fetchone() == (3,)

    assert tables.collect_garbage("messages", min_age_s=3600) == 0
    assert tables.collect_garbage("messages") == 3
    assert len(tables.files("messages", "date=2024-01-01")) == 1
    assert connect(root).sql("SELECT count(*) FROM messages").fetchone() == (3,)


def test_recompaction_keeps_older_sources_superseded(tmp_path):
    tables = Tables(StorageRoot(url=str(tmp_path)))
    for queue_id in "ab":
        tables.write("messages", "date=2024-01-01", _table([queue_id]))
    tables.compact("messages", "date=2024-01-01", min_files=2)
    for queue_id in "cd":
        tables.write("messages", "date=2024-01-01", _table([queue_id]))
    assert tables.compact("messages", "date=2024-01-01", min_files=3) == 3

    # The first compacted file and all four batch files are superseded.
    assert len(tables.superseded("messages")) == 5
    rows = connect(tables.root).sql("SELECT queue_id FROM messages").fetchall()
    assert sorted(r[0] for r in rows) == ["a", "b", "c", "d"]


def test_empty_root_still_answers_queries(tmp_path):
    con = connect(StorageRoot(url=str(tmp_path)))
    assert con.sql("SELECT count(*) FROM messages").fetchone() == (0,)
    assert con.sql("SELECT count(*) FROM dead_letters").fetchone() == (0,)


def test_every_table_folder_gets_a_view(tmp_path):
    root = StorageRoot(url=str(tmp_path))
    Tables(root).write("feedback", "date=2024-01-01", pa.table({"x": [1, 2]}))
    con = connect(root)
    assert con.sql("SELECT sum(x), min(date) FROM feedback").fetchone()[0] == 3
