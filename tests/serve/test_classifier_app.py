"""Train a tiny model on fixture mail, serve it, classify by handle and HTTP."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path

import httpx
import pytest

from cluster.config import load_config
from serve.classifier import APP_NAME, ROUTE_PREFIX, build_app, load_serving_model
from serve.errors import BadMessageError, ModelLoadError
from serve.verdict import Verdict
from storage.registry import ModelRegistry, RegistryError
from storage.root import StorageRoot

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CORPUS = FIXTURES / "tiny-corpus"
MAX_BYTES = 20_000


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    store = tmp_path_factory.mktemp("classifier-store")
    return load_config(
        storage={"root": str(store)},
        training={
            "epochs": 3,
            "batch_size": 4,
            "learning_rate": 3e-3,
            "max_tokens": 48,
            "cpus_per_worker": 0.5,
        },
        classifier={"max_message_bytes": MAX_BYTES, "num_cpus": 0.5},
    )


@pytest.fixture(scope="module")
def tiny_version(ray_local, tiny_config) -> str:
    from training.train import train

    registry = ModelRegistry(StorageRoot.from_config(tiny_config.storage))
    result = train(tiny_config, CORPUS, registry, serve=True, show_progress=False)
    return result.version


@pytest.fixture(scope="module")
def classifier(serve_http_port, tiny_config, tiny_version):
    from ray import serve

    handle = serve.run(build_app(tiny_config), name=APP_NAME, route_prefix=ROUTE_PREFIX)
    yield handle
    serve.delete(APP_NAME)


@pytest.mark.ray
@pytest.mark.slow
def test_training_publishes_a_serving_version_with_metrics_and_lineage(
    tiny_config, tiny_version
):
    registry = ModelRegistry(StorageRoot.from_config(tiny_config.storage))

    metrics = registry.read_json(tiny_version, "metrics.json")
    lineage = registry.read_json(tiny_version, "lineage.json")
    weights = registry.local_path(tiny_version) / "weights.safetensors"

    assert registry.serving_version() == tiny_version
    assert metrics["n"] == 3  # the fixture corpus's test split
    assert 0.5 <= metrics["threshold"] <= 1
    assert lineage["corpus_path"] == str(CORPUS.resolve())
    assert len(lineage["corpus_content_hash"]) == 64
    assert "sha256" in lineage["split_rule"]
    assert weights.stat().st_size < 5 * 1024 * 1024


@pytest.mark.ray
@pytest.mark.slow
def test_handle_and_http_give_the_same_verdict(
    classifier, serve_http_port, tiny_version
):
    raw = (CORPUS / "spam" / "spam-06.eml").read_bytes()

    by_handle: Verdict = classifier.classify.remote(raw).result(timeout_s=60)
    response = httpx.post(
        f"http://127.0.0.1:{serve_http_port}/classify", content=raw, timeout=60
    )

    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == by_handle.model_version == tiny_version
    assert body["spam_score"] == pytest.approx(by_handle.spam_score, abs=1e-3)
    assert body["label"] == (
        "spam" if body["spam_score"] >= body["threshold"] else "ham"
    )
    assert body["reasons"]


@pytest.mark.ray
@pytest.mark.slow
def test_classify_text_batches_concurrent_requests(classifier):
    from serve.text import message_text

    texts = [message_text(p.read_bytes()) for p in sorted(CORPUS.glob("*/*.eml"))]

    async def all_at_once():
        return await asyncio.gather(
            *(classifier.classify_text.remote(t) for t in texts)
        )

    verdicts = asyncio.run(all_at_once())

    assert len(verdicts) == len(texts)
    assert all(0.0 <= v.spam_score <= 1.0 for v in verdicts)
    assert all(v.label in ("spam", "ham") for v in verdicts)


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 400),
        (b"x" * (MAX_BYTES + 1), 413),
        (b"\x00\xff\xfe garbage that is not MIME at all", 200),
        (b"Content-Type: text/plain; charset=x-nonsense\n\n\xff\xfe\xfa", 200),
    ],
)
def test_bad_http_input_gets_a_verdict_or_a_4xx(
    classifier, serve_http_port, body, status
):
    response = httpx.post(
        f"http://127.0.0.1:{serve_http_port}/classify", content=body, timeout=60
    )

    assert response.status_code == status
    assert ("spam_score" in response.json()) == (status == 200)


@pytest.mark.ray
@pytest.mark.slow
def test_oversized_message_by_handle_is_refused_with_a_reason(classifier):
    with pytest.raises(BadMessageError, match="exceeds"):
        classifier.classify.remote(b"x" * (MAX_BYTES + 1)).result(timeout_s=60)


def test_replica_without_its_model_fails_to_start(tmp_path):
    config = load_config(
        storage={"root": str(tmp_path / "store")},
        classifier={"model_version": "v-does-not-exist"},
    )

    with pytest.raises(RegistryError, match="no such version"):
        load_serving_model(config)


def test_unreadable_model_folder_is_a_load_error(tmp_path):
    from serve.model import SpamModel

    (tmp_path / "model.json").write_text("{}")

    with pytest.raises(ModelLoadError, match=r"weights\.safetensors") as caught:
        SpamModel.load(tmp_path)

    again = pickle.loads(pickle.dumps(caught.value))
    assert (again.path, again.reason) == (caught.value.path, caught.value.reason)
