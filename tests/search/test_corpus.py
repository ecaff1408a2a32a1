"""Search over the SpamAssassin corpus, embedded through the product's path."""

from __future__ import annotations

from collections import Counter

import pytest

from storage.indexing import catch_up
from storage.root import StorageRoot
from storage.search import more_like_this, search
from tests.search.store import corpus_work, write_messages

# Encoding 6,046 messages takes minutes on 2 cores; more on a shared machine.
pytestmark = [pytest.mark.slow, pytest.mark.corpus, pytest.mark.timeout(2400)]


@pytest.fixture(scope="session")
def corpus_store(tmp_path_factory, embedder):
    """The whole corpus stored and indexed once per session (a few minutes)."""
    from tests.conftest import corpus_dir
    from training.corpus import walk_corpus

    examples = walk_corpus(corpus_dir("spamassassin"))
    works = [corpus_work(e.path, e.label, i) for i, e in enumerate(examples)]
    root = StorageRoot(url=str(tmp_path_factory.mktemp("corpus") / "store"))
    write_messages(root, works)
    assert catch_up(root, embedder) == len(works)
    return root, works


def test_search_for_a_subject_returns_that_message_first(corpus_store, embedder):
    root, works = corpus_store
    subjects = Counter(w.parsed.subject.strip().lower() for w in works)
    known = [
        w
        for w in works
        if len(w.parsed.subject.split()) >= 5
        and subjects[w.parsed.subject.strip().lower()] == 1
    ]
    chosen = known[:: max(1, len(known) // 20)][:20]
    assert len(chosen) == 20

    misses = []
    for work in chosen:
        hits = search(root, work.parsed.subject, mode="hybrid", embedder=embedder)
        if not hits or hits[0].queue_id != work.queue_id:
            misses.append(work.parsed.subject)
    assert not misses, f"not first for: {misses}"


def test_more_like_this_on_spam_returns_mostly_spam(corpus_store):
    root, works = corpus_store
    spam = [w for w in works if w.verdict.label == "spam"]
    chosen = spam[:: len(spam) // 50][:50]
    precisions = []
    for work in chosen:
        hits = more_like_this(root, work.queue_id, limit=10)
        assert len(hits) == 10
        precisions.append(sum(h.label == "spam" for h in hits) / 10)
    mean = sum(precisions) / len(precisions)
    assert mean >= 0.9, f"precision@10 {mean:.3f} over {len(chosen)} spam messages"
