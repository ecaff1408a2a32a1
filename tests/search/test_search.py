"""Vector, text and hybrid search and more-like-this on fixture messages."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from storage.search import (
    MODES,
    SearchHit,
    exact_subject_first,
    filter_clause,
    more_like_this,
    search,
)
from storage.vectors import VectorStore


@pytest.mark.parametrize(
    ("mode", "query", "expected"),
    [
        ("vector", "buy medication online without a doctor", "pills"),
        ("vector", "walk in the mountains on sunday", "hiking"),
        ("text", "overdue invoice", "invoice"),
        ("text", "pull request parser", "review"),
        ("hybrid", "lottery prize money", "lottery"),
        ("hybrid", "budget meeting thursday", "meeting"),
    ],
)
def test_search_ranks_the_matching_message_first(
    fixture_store, embedder, mode, query, expected
):
    root, ids = fixture_store
    hits = search(root, query, mode=mode, embedder=embedder)
    assert hits, f"{mode} search for {query!r} found nothing"
    assert hits[0].queue_id == ids[expected]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_hits_carry_what_a_result_list_shows(fixture_store, embedder):
    root, ids = fixture_store
    hit = search(root, "casino free spins", mode="hybrid", embedder=embedder)[0]
    assert hit.queue_id == ids["casino"]
    assert hit.subject == "Free spins bonus at our online casino"
    assert "promo@vegas-slots.biz" in hit.from_
    assert (hit.label, hit.spam_score) == ("spam", 0.97)
    assert hit.received_at == datetime(2024, 5, 14, 20, 0, tzinfo=UTC)
    assert hit.to_json()["date"] == "2024-05-14T20:00:00+00:00"


@pytest.mark.parametrize("mode", MODES)
def test_label_filter_keeps_only_that_label(fixture_store, embedder, mode):
    root, _ = fixture_store
    hits = search(root, "payment", mode=mode, label="ham", embedder=embedder)
    assert hits
    assert {h.label for h in hits} == {"ham"}


@pytest.mark.parametrize("mode", MODES)
def test_user_filter_keeps_only_their_mail(fixture_store, embedder, mode):
    root, ids = fixture_store
    hits = search(root, "money", mode=mode, user="Bob@Example.com", embedder=embedder)
    assert hits
    assert all("bob@example.com" in h.rcpt_tos for h in hits)
    assert ids["lottery"] not in {h.queue_id for h in hits}


def test_since_filter_drops_older_mail(fixture_store, embedder):
    root, _ = fixture_store
    hits = search(root, "money", since=date(2024, 5, 11), embedder=embedder, limit=20)
    assert {h.received_at.date() for h in hits} <= {
        date(2024, 5, 11),
        date(2024, 5, 13),
        date(2024, 5, 14),
    }
    assert len(hits) == 3


def test_limit_caps_the_result_count(fixture_store, embedder):
    root, _ = fixture_store
    assert len(search(root, "hello", limit=3, embedder=embedder)) == 3


def test_more_like_this_finds_the_same_kind_and_not_itself(fixture_store):
    root, ids = fixture_store
    hits = more_like_this(root, ids["loan"], limit=3)
    assert ids["loan"] not in {h.queue_id for h in hits}
    assert {h.label for h in hits[:2]} == {"spam"}


def test_more_like_this_applies_filters(fixture_store):
    root, ids = fixture_store
    hits = more_like_this(root, ids["pills"], label="ham", limit=10)
    assert len(hits) == 4
    assert {h.label for h in hits} == {"ham"}


def test_more_like_this_for_an_unknown_message_raises_key_error(fixture_store):
    root, _ = fixture_store
    with pytest.raises(KeyError):
        more_like_this(root, "0" * 32)


def test_search_on_a_store_without_vectors_finds_nothing(tmp_path, embedder):
    from storage.root import StorageRoot

    root = StorageRoot(url=str(tmp_path / "empty"))
    assert search(root, "anything", embedder=embedder) == []
    assert not VectorStore(root).exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "fuzzy"}, "mode"),
        ({"limit": 0}, "limit"),
        ({"limit": 5000}, "limit"),
        ({"label": "junk"}, "label"),
    ],
)
def test_bad_arguments_name_the_parameter(fixture_store, embedder, kwargs, message):
    root, _ = fixture_store
    with pytest.raises(ValueError, match=message):
        search(root, "x", embedder=embedder, **kwargs)


def test_empty_query_text_is_refused(fixture_store, embedder):
    root, _ = fixture_store
    with pytest.raises(ValueError, match="text"):
        search(root, "   ", embedder=embedder)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({}, None),
        ({"label": "spam"}, "label = 'spam'"),
        (
            {"user": "A@x.org"},
            "array_has_any(rcpt_tos, make_array('a@x.org'))",
        ),
        (
            {"user": ("a@x.org", "o'b@x.org")},
            "array_has_any(rcpt_tos, make_array('a@x.org', 'o''b@x.org'))",
        ),
        ({"since": date(2024, 5, 1)}, "received_at >= TIMESTAMP '2024-05-01 00:00:00'"),
        (
            {"since": datetime(2024, 5, 1, 12, 30), "label": "ham"},
            "label = 'ham' AND received_at >= TIMESTAMP '2024-05-01 12:30:00'",
        ),
        ({"exclude_queue_id": "abc"}, "queue_id != 'abc'"),
    ],
)
def test_filter_clause(args, expected):
    assert filter_clause(**args) == expected


def _hit(queue_id: str, subject: str, score: float) -> SearchHit:
    when = datetime(2024, 5, 1, tzinfo=UTC)
    return SearchHit(queue_id, score, subject, "a@example.org", "spam", 0.9, when, ())


def test_a_message_whose_subject_is_the_query_comes_first():
    hits = [
        _hit("tagged", "You don't satisfy me   QWXZ", 0.9),
        _hit("exact", "you don't  satisfy me FGTPRIL", 0.5),
        _hit("other", "Satisfaction guaranteed", 0.4),
    ]
    ranked = exact_subject_first(hits, "You don't satisfy me FGTPRIL")
    assert [h.queue_id for h in ranked] == ["exact", "tagged", "other"]
    assert exact_subject_first(hits, "no such subject") == hits
