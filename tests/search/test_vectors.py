"""The vector table: idempotent upserts, index decisions and index builds."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from serve.vector_space import EMBEDDING_DIM
from storage.indexing import catch_up
from storage.root import StorageRoot
from storage.vectors import (
    FTS_INDEX,
    VECTOR_INDEX,
    IndexPolicy,
    IndexState,
    VectorStore,
    document_row,
    index_actions,
    lance_storage_options,
)


def _rows(count: int, seed: int = 0, prefix: str = "q") -> list[dict]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(count, EMBEDDING_DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        document_row(
            {
                "queue_id": f"{prefix}{i:06d}",
                "received_at": datetime(2024, 5, 6, tzinfo=UTC),
                "rcpt_tos": ["Alice@Example.com"],
                "subject": f"subject {i}",
                "body_text": f"body number {i} about topic {i % 7}",
                "label": "ham",
                "spam_score": 0.1,
            },
            vector,
        )
        for i, vector in enumerate(vectors)
    ]


@pytest.fixture
def store(tmp_path) -> VectorStore:
    return VectorStore(StorageRoot(url=str(tmp_path / "store")))


def test_adding_the_same_messages_again_keeps_one_row_each(store):
    rows = _rows(20)
    store.upsert(rows)
    store.upsert(rows[:10])
    store.upsert(rows + rows[:3])
    assert store.count() == 20
    assert store.queue_ids() == {r["queue_id"] for r in rows}


def test_a_re_add_replaces_the_row(store):
    rows = _rows(3)
    store.upsert(rows)
    store.upsert([{**rows[1], "label": "spam", "spam_score": 0.99}])
    table = store.table().to_arrow().to_pylist()
    by_id = {r["queue_id"]: r for r in table}
    assert (by_id[rows[1]["queue_id"]]["label"], store.count()) == ("spam", 3)


def test_recipients_are_stored_lower_case(store):
    store.upsert(_rows(1))
    assert store.table().to_arrow().column("rcpt_tos")[0].as_py() == [
        "alice@example.com"
    ]


def test_catch_up_on_an_empty_store_adds_nothing(tmp_path, embedder):
    root = StorageRoot(url=str(tmp_path / "store"))
    assert catch_up(root, embedder) == 0


def test_catch_up_adds_only_what_is_missing(fixture_store, embedder):
    root, ids = fixture_store
    store = VectorStore(root)
    assert store.queue_ids() == set(ids.values())
    assert catch_up(root, embedder) == 0
    assert store.count() == len(ids)


def test_full_text_index_is_built_with_the_first_rows(store):
    store.upsert(_rows(5))
    assert store.maintain() == ("create_fts",)
    assert store.index_state().has_fts
    assert store.maintain() == ()


def test_vector_index_is_built_past_the_threshold_and_refreshed(tmp_path):
    policy = IndexPolicy(ann_min_rows=600, ann_refresh_rows=100, fts_refresh_rows=50)
    store = VectorStore(StorageRoot(url=str(tmp_path / "store")), policy)
    store.upsert(_rows(500))
    assert store.maintain() == ("create_fts",)
    assert not store.index_state().has_ann

    store.upsert(_rows(200, seed=1, prefix="r"))
    assert store.maintain() == ("create_ann", "optimize")
    names = {i.name for i in store.table().list_indices()}
    assert {FTS_INDEX, VECTOR_INDEX} <= names
    state = store.index_state()
    assert (state.rows, state.ann_unindexed, state.fts_unindexed) == (700, 0, 0)

    store.upsert(_rows(150, seed=2, prefix="s"))
    assert store.index_state().ann_unindexed == 150
    assert store.maintain() == ("optimize",)
    assert store.index_state().ann_unindexed == 0


def test_indexed_search_still_finds_a_row_by_its_own_vector(tmp_path):
    from storage.search import more_like_this

    policy = IndexPolicy(ann_min_rows=300)
    root = StorageRoot(url=str(tmp_path / "store"))
    store = VectorStore(root, policy)
    rows = _rows(400)
    store.upsert(rows)
    store.maintain()
    target = np.asarray(rows[42]["vector"])
    store.upsert([{**rows[7], "queue_id": "twin", "vector": target}])
    hits = more_like_this(root, rows[42]["queue_id"], limit=1, store=store)
    assert hits[0].queue_id == "twin"
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)


POLICY = IndexPolicy(ann_min_rows=100, ann_refresh_rows=50, fts_refresh_rows=10)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (IndexState(rows=0), ()),
        (IndexState(rows=5), ("create_fts",)),
        (IndexState(rows=100), ("create_fts", "create_ann")),
        (IndexState(rows=99, has_fts=True, fts_unindexed=9), ()),
        (IndexState(rows=99, has_fts=True, fts_unindexed=10), ("optimize",)),
        (IndexState(rows=150, has_fts=True), ("create_ann",)),
        (
            IndexState(rows=500, has_fts=True, has_ann=True, ann_unindexed=49),
            (),
        ),
        (
            IndexState(rows=500, has_fts=True, has_ann=True, ann_unindexed=50),
            ("optimize",),
        ),
    ],
)
def test_index_actions(state, expected):
    assert index_actions(state, POLICY) == expected


def test_index_policy_rejects_sub_vectors_that_do_not_divide_the_dimension():
    with pytest.raises(ValueError, match="ann_sub_vectors"):
        IndexPolicy(ann_sub_vectors=50)


def test_s3_roots_get_lance_object_store_options():
    from cluster.config import StorageConfig

    root = StorageRoot.from_config(
        StorageConfig(
            root="s3://mail/store",
            s3_endpoint_url="http://127.0.0.1:8333",
            s3_access_key_id="key",
            s3_secret_access_key="secret",
        )
    )
    assert lance_storage_options(root) == {
        "aws_region": "us-east-1",
        "aws_access_key_id": "key",
        "aws_secret_access_key": "secret",
        "aws_endpoint": "http://127.0.0.1:8333",
        "allow_http": "true",
        "aws_virtual_hosted_style_request": "false",
    }
    assert lance_storage_options(StorageRoot(url="/tmp/x")) == {}
