"""Classification requests keep flowing through a promotion and a rollback."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from serve.rollout_state import RolloutState, iso, write_state
from tests.learning.conftest import learning_config, publish_copy
from training.controller import LearningLoop

pytestmark = [pytest.mark.slow, pytest.mark.ray]

APP = "learning-classifier"


async def _drive(handle, stop: asyncio.Event, seen: list[str], failures: list):
    index = 0
    while not stop.is_set():
        calls = [
            handle.classify_text.remote(f"Subject: note {index + i}\n\nhello", f"K{i}")
            for i in range(8)
        ]
        index += 8
        for outcome in await asyncio.gather(*calls, return_exceptions=True):
            if isinstance(outcome, BaseException):
                failures.append(outcome)
            else:
                seen.append(outcome.model_version)


async def _until(seen: list[str], predicate, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    mark = len(seen)
    while time.monotonic() < deadline:
        recent = seen[mark:][-16:]
        if len(recent) == 16 and predicate(recent):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not reached; last versions {seen[-16:]}")


async def test_promotion_and_rollback_fail_no_request(serve_http_port, tmp_path):
    from ray import serve

    from serve.classifier import build_app

    config = learning_config(
        tmp_path / "store", rollout_poll_s=0.2, shadow_flush_interval_s=1
    )
    config = config.model_copy(
        update={
            "classifier": config.classifier.model_copy(
                update={"num_cpus": 0.5, "dtype": "fp32"}
            )
        }
    )
    loop = LearningLoop(config)
    stable = loop.registry.serving_version()
    first = publish_copy(loop.registry, tmp_path, "v-first", threshold=0.0)
    second = publish_copy(loop.registry, tmp_path, "v-second", threshold=1.0)
    handle = serve.run(build_app(config), name=APP, route_prefix=f"/{APP}")

    seen: list[str] = []
    failures: list = []
    stop = asyncio.Event()
    driver = asyncio.create_task(_drive(handle, stop, seen, failures))
    try:
        await _until(seen, lambda r: set(r) == {stable})

        now = datetime.now(UTC)
        write_state(
            loop.root,
            RolloutState(
                phase="canary",
                candidate_version=first,
                fraction=1.0,
                step_started_at=iso(now),
            ),
        )
        await _until(seen, lambda r: set(r) == {first})
        loop.promote()
        await _until(seen, lambda r: set(r) == {first})
        assert loop.registry.serving_version() == first

        write_state(
            loop.root,
            RolloutState(
                phase="canary",
                candidate_version=second,
                fraction=1.0,
                step_started_at=iso(datetime.now(UTC)),
            ),
        )
        await _until(seen, lambda r: set(r) == {second})
        loop.rollback()
        await _until(seen, lambda r: set(r) == {first})
    finally:
        stop.set()
        await driver
        serve.delete(APP)

    assert failures == []
    assert len(seen) > 100
