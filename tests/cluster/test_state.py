"""Platform state and status snapshot files, without a running platform."""

from __future__ import annotations

import json

from cluster.config import load_config
from cluster.process import config_env
from cluster.state import PlatformState
from cluster.status import collect_status, snapshot_path, write_snapshot


def test_config_env_names_section_and_field():
    env = config_env(
        {"smtp": {"port": 25, "domains": ["a.test"]}, "storage": {"root": "s3://b/p"}}
    )
    assert env == {
        "MAILRAY_SMTP_PORT": "25",
        "MAILRAY_SMTP_DOMAINS": '["a.test"]',
        "MAILRAY_STORAGE_ROOT": "s3://b/p",
    }


def test_config_env_round_trips_through_load_config(monkeypatch, tmp_path):
    for key, value in config_env(
        {"smtp": {"port": 2600, "domains": ["a.test"]}, "users": {}}
    ).items():
        monkeypatch.setenv(key, value)
    config = load_config(
        users=[{"name": "u", "password": "p", "addresses": ["u@a.test"]}]
    )
    assert config.smtp.port == 2600 and config.smtp.domains == ("a.test",)


def test_status_reads_the_snapshot_and_the_store(tmp_path):
    config = load_config(
        storage={"root": str(tmp_path / "store")},
        pipeline={"state_file": str(tmp_path / "platform.json")},
    )
    state = PlatformState(
        ray_address="127.0.0.1:1",
        namespace="mailray",
        smtp="127.0.0.1:2525",
        http="http://127.0.0.1:8000",
        imap=None,
        storage_root=str(tmp_path / "store"),
        pid=1,
    )
    state.write(config.pipeline.state_file)
    assert PlatformState.read(config.pipeline.state_file) == state
    write_snapshot(
        snapshot_path(config),
        {
            "queues": {"parse": 3, "classify": 0, "store": 1},
            "stages": {"classify.0": {"processed": 9, "model_versions": {"v1": 9}}},
        },
    )

    report = collect_status(state, config)
    assert report["queues"] == {"parse": 3, "classify": 0, "store": 1}
    assert report["model_versions_seen"] == {"v1": 9}
    assert report["stored_messages"] == 0 and report["dead_letters"] == 0
    assert report["snapshot_age_s"] < 60
    json.dumps(report, default=str)
