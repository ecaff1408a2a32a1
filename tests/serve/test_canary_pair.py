"""Stable and candidate side by side: routing, shadow verdicts, swaps."""

from __future__ import annotations

import dataclasses

import pytest

from serve.canary import ModelPair, key_of_text, next_pair, score_pair
from serve.model import SpamModel
from serve.rollout import routed_to_candidate
from serve.shadow import TABLE, ShadowLog
from storage.registry import BUNDLED_DIR, bundled_versions
from storage.root import StorageRoot

TEXTS = [f"Subject: note {i}\nFrom: a at b.example\n\nhello {i}" for i in range(16)]
KEYS = [f"Q{i:04d}ABCDEF" for i in range(16)]


@pytest.fixture(scope="module")
def bootstrap() -> SpamModel:
    version = bundled_versions()[-1]
    return SpamModel.load(BUNDLED_DIR / version, dtype="fp32", version=version)


@pytest.fixture(scope="module")
def strict(bootstrap) -> SpamModel:
    """The same network under another name and a threshold of zero."""
    spec = dataclasses.replace(bootstrap.spec, threshold=0.0)
    return dataclasses.replace(bootstrap, version="v-strict", spec=spec)


def test_without_candidate_every_verdict_is_stable_and_nothing_is_shadowed(
    bootstrap,
):
    verdicts, shadows = score_pair(ModelPair(bootstrap), TEXTS, KEYS)
    assert {v.model_version for v in verdicts} == {bootstrap.version}
    assert shadows == []


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.5, 1.0])
def test_canary_routes_by_key_and_shadows_every_message(bootstrap, strict, fraction):
    pair = ModelPair(bootstrap, strict, fraction)
    verdicts, shadows = score_pair(pair, TEXTS, KEYS)

    expected = [
        strict.version if routed_to_candidate(k, fraction) else bootstrap.version
        for k in KEYS
    ]
    assert [v.model_version for v in verdicts] == expected
    assert [s.queue_id for s in shadows] == KEYS
    assert {s.candidate_label for s in shadows} == {"spam"}
    assert all(s.stable_version == bootstrap.version for s in shadows)
    assert all(any("canary" in r for r in v.reasons) for v in verdicts)


def test_routing_the_same_message_twice_gives_the_same_side(bootstrap, strict):
    pair = ModelPair(bootstrap, strict, 0.5)
    first, _ = score_pair(pair, TEXTS, KEYS)
    again, _ = score_pair(pair, list(reversed(TEXTS)), list(reversed(KEYS)))
    assert [v.model_version for v in first] == [
        v.model_version for v in reversed(again)
    ]


def test_next_pair_reuses_loaded_models_and_drops_the_candidate(bootstrap, strict):
    loads: list[str] = []

    def load(version: str) -> SpamModel:
        loads.append(version)
        return strict

    canary = next_pair(
        ModelPair(bootstrap), (bootstrap.version, "v-strict", 0.05), load
    )
    assert loads == ["v-strict"]
    advanced = next_pair(canary, (bootstrap.version, "v-strict", 0.5), load)
    assert advanced.candidate is strict and advanced.fraction == 0.5
    promoted = next_pair(advanced, ("v-strict", None, 0.0), load)
    assert promoted.stable is strict and promoted.candidate is None
    assert loads == ["v-strict"]


def test_text_keys_are_stable_and_distinct():
    assert key_of_text("a") == key_of_text("a") != key_of_text("b")


def test_shadow_log_writes_a_queryable_table(tmp_path, bootstrap, strict):
    from storage.sql import connect

    root = StorageRoot(str(tmp_path))
    log = ShadowLog(root, flush_interval_s=60)
    _, shadows = score_pair(ModelPair(bootstrap, strict, 0.5), TEXTS, KEYS)
    log.add(shadows)
    log.close()
    con = connect(root)
    count, routed = con.sql(
        f"SELECT count(*), count(*) FILTER (WHERE routed_to = 'candidate') FROM {TABLE}"
    ).fetchone()
    assert count == len(KEYS)
    assert routed == sum(routed_to_candidate(k, 0.5) for k in KEYS)
