"""A session-wide base encoder and one fixture store per session."""

from __future__ import annotations

import pytest

from serve.embedding import Embedder, shared_embedder
from storage.root import StorageRoot
from tests.search.store import build_store


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return shared_embedder()


@pytest.fixture(scope="session")
def fixture_store(tmp_path_factory, embedder) -> tuple[StorageRoot, dict[str, str]]:
    root = StorageRoot(url=str(tmp_path_factory.mktemp("search") / "store"))
    return root, build_store(root, embedder)
