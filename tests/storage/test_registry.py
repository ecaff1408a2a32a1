"""ModelRegistry on a local folder and on S3 (moto server on loopback)."""

from __future__ import annotations

import json
import pickle
import uuid
from pathlib import Path

import pytest

from storage.registry import ModelRegistry, RegistryError, bundled_versions
from storage.root import StorageRoot
from tests.conftest import free_port


def _version_folder(tmp_path: Path, name: str = "build") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps({"threshold": 0.7}))
    (folder / "weights.safetensors").write_bytes(b"\x00" * 64)
    (folder / "report").mkdir()
    (folder / "report" / "eval.png").write_bytes(b"png")
    return folder


def _bundle(tmp_path: Path) -> Path:
    bundled = tmp_path / "bundled"
    (bundled / "v0-boot").mkdir(parents=True)
    (bundled / "v0-boot" / "model.json").write_text("{}")
    (bundled / "v0-boot" / "weights.safetensors").write_bytes(b"w")
    return bundled


@pytest.fixture(params=["local", "s3"])
def root(request, tmp_path) -> StorageRoot:
    if request.param == "local":
        return StorageRoot(url=str(tmp_path / "store"))
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    request.addfinalizer(server.stop)
    options = (
        ("key", "testing"),
        ("secret", "testing"),
        (
            "client_kwargs",
            {"endpoint_url": f"http://127.0.0.1:{port}", "region_name": "us-east-1"},
        ),
    )
    import boto3

    # moto keeps buckets per process, so each test gets its own.
    bucket = f"models-{uuid.uuid4().hex[:12]}"

    boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    return StorageRoot(url=f"s3://{bucket}/prefix", storage_options=options)


def test_empty_registry_serves_the_bundled_bootstrap(root, tmp_path):
    registry = ModelRegistry(
        root, cache_dir=tmp_path / "cache", bundled_dir=_bundle(tmp_path)
    )

    assert registry.list_versions() == []
    assert registry.serving_version() == "v0-boot"
    assert registry.local_path("v0-boot") == tmp_path / "bundled" / "v0-boot"


def test_publish_then_serve_a_version_round_trips_every_file(root, tmp_path):
    registry = ModelRegistry(
        root, cache_dir=tmp_path / "cache", bundled_dir=_bundle(tmp_path)
    )

    version = registry.publish(
        _version_folder(tmp_path),
        metrics={"f1": 0.99},
        lineage={"parent_version": None},
    )
    registry.set_serving(version)
    local = registry.local_path(version)

    assert registry.list_versions() == [version]
    assert registry.serving_version() == version
    assert (local / "weights.safetensors").read_bytes() == b"\x00" * 64
    assert (local / "report" / "eval.png").read_bytes() == b"png"
    assert registry.read_json(version, "metrics.json") == {"f1": 0.99}
    assert registry.read_json(version, "lineage.json") == {"parent_version": None}


def test_versions_list_oldest_first_and_republishing_is_refused(root, tmp_path):
    registry = ModelRegistry(root, cache_dir=tmp_path / "cache", bundled_dir=tmp_path)
    folder = _version_folder(tmp_path)

    registry.publish(folder, metrics={}, lineage={}, version="v2")
    registry.publish(folder, metrics={}, lineage={}, version="v1", serve=True)

    assert registry.list_versions() == ["v1", "v2"]
    assert registry.serving_version() == "v1"
    with pytest.raises(RegistryError, match="already published"):
        registry.publish(folder, metrics={}, lineage={}, version="v1")


def test_unknown_versions_and_bad_names_are_refused(tmp_path):
    registry = ModelRegistry(
        StorageRoot(url=str(tmp_path / "store")), bundled_dir=tmp_path / "none"
    )

    with pytest.raises(RegistryError, match="no such version"):
        registry.set_serving("v9")
    with pytest.raises(RegistryError, match="no bundled model"):
        registry.serving_version()
    with pytest.raises(ValueError, match="version"):
        registry.local_path("../etc")


def test_publish_needs_weights(tmp_path):
    registry = ModelRegistry(StorageRoot(url=str(tmp_path / "store")))
    (tmp_path / "empty").mkdir()

    with pytest.raises(ValueError, match=r"model\.json"):
        registry.publish(tmp_path / "empty", metrics={}, lineage={})


def test_registry_error_survives_pickling():
    error = pickle.loads(pickle.dumps(RegistryError("v1", "gone")))

    assert (error.version, error.reason, str(error)) == (
        "v1",
        "gone",
        "model version 'v1': gone",
    )


def test_the_package_ships_a_bootstrap_model():
    assert bundled_versions()
