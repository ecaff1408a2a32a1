import json

import pyarrow as pa
import pyarrow.parquet as pq

from storage.root import StorageRoot
from storage.sql import connect
from storage.tables import Tables


def _table(ids):
    return pa.table({"queue_id": ids})


def test_interrupted_compaction_is_finished_at_start(tmp_path):
    root = StorageRoot(url=str(tmp_path))
    tables = Tables(root)
    sources = [tables.write("messages", "date=2024-01-01", _table([i])) for i in "ab"]
    merged = pa.concat_tables([pq.read_table(p) for p in sources])
    names = [p.rsplit("/", 1)[-1] for p in sources]
    merged = merged.replace_schema_metadata(
        {b"mailray.compacted_from": json.dumps(names)}
    )
    # The crash: the compacted file is written, the sources are still there.
    tables.write("messages", "date=2024-01-01", merged, prefix="c-")
    assert tables.column_values("messages", "queue_id") == {"a", "b"}

    assert tables.finish_compactions("messages") == 2
    assert len(tables.files("messages", "date=2024-01-01")) == 1


def test_empty_root_still_answers_queries(tmp_path):
    con = connect(StorageRoot(url=str(tmp_path)))
    assert con.sql("SELECT count(*) FROM messages").fetchone() == (0,)
    assert con.sql("SELECT count(*) FROM dead_letters").fetchone() == (0,)


def test_every_table_folder_gets_a_view(tmp_path):
    root = StorageRoot(url=str(tmp_path))
    Tables(root).write("feedback", "date=2024-01-01", pa.table({"x": [1, 2]}))
    con = connect(root)
    assert con.sql("SELECT sum(x), min(date) FROM feedback").fetchone()[0] == 3
