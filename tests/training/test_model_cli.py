"""``mailray model status|history|promote|rollback``, as a user types them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

from serve.rollout_state import RolloutState, iso, write_state
from storage.registry import ModelRegistry, bundled_versions
from storage.root import StorageRoot
from tests.learning.conftest import publish_copy


def _mailray(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cluster.cli", "model", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_model_commands_show_promote_and_refuse_without_canary(tmp_path):
    root = StorageRoot(str(tmp_path / "store"))
    registry = ModelRegistry(root)
    candidate = publish_copy(registry, tmp_path, "v-candidate", threshold=0.9)
    write_state(
        root,
        RolloutState(
            phase="canary",
            candidate_version=candidate,
            fraction=0.25,
            step=1,
            step_started_at=iso(datetime.now(UTC)),
        ),
    )
    env = {**os.environ, "MAILRAY_STORAGE_ROOT": str(tmp_path / "store")}

    status = json.loads(_mailray(env, "status").stdout)
    assert status["serving_version"] == bundled_versions()[-1]
    assert (status["phase"], status["candidate_version"], status["fraction"]) == (
        "canary",
        candidate,
        0.25,
    )

    promoted = _mailray(env, "promote")
    assert promoted.returncode == 0, promoted.stderr
    assert registry.serving_version() == candidate

    events = [json.loads(line) for line in _mailray(env, "history").stdout.splitlines()]
    assert [(e["event"], e["version"]) for e in events] == [("promoted", candidate)]

    refused = _mailray(env, "rollback")
    assert refused.returncode == 1
    assert "no candidate" in refused.stderr
