"""The model rollout over HTTP: status, history, promote, rollback."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from cluster.config import load_config
from serve.rollout_state import RolloutState, iso, write_state
from storage.registry import ModelRegistry, bundled_versions
from storage.root import StorageRoot
from tests.learning.conftest import publish_copy

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_model_routes_show_and_control_the_canary(serve_http_port, tmp_path):
    from ray import serve

    from serve.api import APP_NAME, run_app

    root = StorageRoot(str(tmp_path / "store"))
    registry = ModelRegistry(root)
    candidate = publish_copy(registry, tmp_path, "v-candidate", threshold=0.9)
    write_state(
        root,
        RolloutState(
            phase="canary",
            candidate_version=candidate,
            fraction=0.05,
            step_started_at=iso(datetime.now(UTC)),
        ),
    )
    run_app(load_config(storage={"root": root.url}))
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{serve_http_port}/api/model", timeout=60
        ) as client:
            status = client.get("/status").json()
            assert status["serving_version"] == bundled_versions()[-1]
            assert status["candidate_version"] == candidate

            promoted = client.post("/promote")
            assert promoted.status_code == 200
            assert promoted.json()["phase"] == "idle"
            assert client.get("/status").json()["serving_version"] == candidate

            events = client.get("/history", params={"limit": 5}).json()["events"]
            assert [e["event"] for e in events] == ["promoted"]

            refused = client.post("/rollback")
            assert refused.status_code == 409
            assert "no candidate" in refused.json()["error"]
            assert client.get("/history", params={"limit": 0}).status_code == 400
    finally:
        serve.delete(APP_NAME)
