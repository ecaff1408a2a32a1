"""The spam classifier as a Ray Serve application.

One deployment, ``Classifier``, loads the registry's serving version (or
the pinned ``classifier.model_version``) when a replica starts; a replica
that cannot load its model fails to start, so a broken registry never
turns into "everything is ham". Requests are batched with ``@serve.batch``
and scored on a worker thread, never on the replica's event loop.

Callers in the cluster use the handle::

    handle = serve.get_app_handle(APP_NAME)
    verdict = await handle.classify.remote(raw_bytes, queue_id)
    verdict = await handle.classify_text.remote(model_text, queue_id)

and anything else HTTP: ``POST /classify`` with the raw message as body.
"""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from ray import serve

from cluster.config import ClassifierConfig, Config
from serve.errors import BadMessageError
from serve.text import message_text
from serve.verdict import Verdict

if TYPE_CHECKING:
    # torch: only replicas import it, not the stages that call them.
    from serve.model import SpamModel

log = logging.getLogger("mailray.serve")

APP_NAME = "classifier"
ROUTE_PREFIX = "/classify"
"""With the app's ``POST /`` route, ``POST /classify`` on the proxy port."""


class _ExactPrefix:
    """Route ``POST /classify`` itself to the app's ``/`` (no 307 redirect).

    Serve strips the route prefix, leaving an empty path that Starlette would
    otherwise answer with a redirect to ``/classify/``.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            root = scope.get("root_path", "")
            if root and scope.get("path") in (root, ""):
                scope = {**scope, "path": root + "/", "raw_path": (root + "/").encode()}
        await self.app(scope, receive, send)


http = FastAPI(title="mailray classifier")
http.add_middleware(_ExactPrefix)


def verdict_for(score: float, model_version: str, threshold: float) -> Verdict:
    """The verdict for one score at the model's operating threshold."""
    label = "spam" if score >= threshold else "ham"
    relation = ">=" if label == "spam" else "<"
    return Verdict(
        spam_score=score,
        label=label,
        model_version=model_version,
        threshold=threshold,
        reasons=(f"model p(spam)={score:.3f} {relation} threshold {threshold:.3f}",),
    )


def check_size(raw: bytes, max_bytes: int) -> None:
    """Raise BadMessageError (with the HTTP status) for unusable bodies."""
    if not isinstance(raw, bytes | bytearray):
        raise BadMessageError(f"raw must be bytes, not {type(raw).__name__}", 400)
    if not raw:
        raise BadMessageError("empty message", 400)
    if len(raw) > max_bytes:
        raise BadMessageError(
            f"message of {len(raw)} bytes exceeds {max_bytes} bytes", 413
        )


def batch_concurrency(settings: ClassifierConfig, cores: int) -> int:
    """How many Serve batches a replica scores at once.

    ``concurrent_batches`` when set; otherwise one per ``torch_threads``
    cores (all cores for 0), but no more than ``max_ongoing_requests`` can
    fill with full batches.
    """
    if settings.concurrent_batches:
        return settings.concurrent_batches
    per_batch = settings.torch_threads or cores
    fillable = settings.max_ongoing_requests // settings.max_batch_size
    return max(1, min(cores // per_batch, fillable))


def load_serving_model(config: Config) -> "SpamModel":
    """The pinned version, else the registry's serving one; raises if unusable.

    For scoring in this process, on every core.
    """
    from serve.model import SpamModel
    from storage.registry import ModelRegistry
    from storage.root import StorageRoot

    settings = config.classifier
    registry = ModelRegistry(StorageRoot.from_config(config.storage))
    version = settings.model_version or registry.serving_version()
    return SpamModel.load(
        registry.local_path(version),
        dtype=settings.dtype,
        version=version,
    )


@serve.deployment(name="Classifier")
@serve.ingress(http)
class Classifier:
    """Scores messages with one model version; batched, off the event loop."""

    def __init__(self, config: Config) -> None:
        from serve.model import default_threads
        from serve.replica_models import ReplicaModels

        settings = config.classifier
        self._max_bytes = settings.max_message_bytes
        # Stable model, plus the candidate during a canary (issue #5): they
        # follow models/rollout.json, swapped in without dropping requests.
        self._models = ReplicaModels(config)
        self._model = self._models.pair.stable
        version = self._model.version
        # Each batch in flight has a thread of its own (and torch_threads
        # cores): one stalled batch never holds up the others.
        concurrent = batch_concurrency(settings, default_threads())
        self._model_threads = ThreadPoolExecutor(concurrent, thread_name_prefix="model")
        self._parse_threads = ThreadPoolExecutor(2, thread_name_prefix="parse")
        self._score_batch = serve.batch(
            self._score_texts,
            max_batch_size=settings.max_batch_size,
            batch_wait_timeout_s=settings.batch_wait_timeout_s,
            max_concurrent_batches=concurrent,
        )

        # Fail now, loudly, rather than on the first message.
        self._model.predict(["Subject: start-up check"])
        log.info(
            "classifier replica serving %s (%s, threshold %.3f, %d batches at once)",
            version,
            self._model.dtype,
            self._model.threshold,
            concurrent,
        )

    def check_health(self) -> None:
        if self._models.pair.stable is None:
            raise RuntimeError("no model loaded")

    async def reconfigure(self, user_config: dict) -> None:
        """Serve's ``user_config``: a rollout state, applied off the loop."""
        await asyncio.to_thread(self._models.apply_user_config, user_config)

    async def _score_texts(
        self, texts: list[str], keys: list[str | None]
    ) -> list[Verdict]:
        """One Serve batch (``self._score_batch`` gathers them)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._model_threads, self._models.score, texts, keys
        )

    async def classify(self, raw: bytes, key: str | None = None) -> Verdict:
        """The verdict for a raw RFC 822 message.

        ``key`` (the queue id) routes the message during a canary; without
        one, a hash of the message's text does.
        """
        check_size(raw, self._max_bytes)
        loop = asyncio.get_running_loop()
        text = await loop.run_in_executor(self._parse_threads, message_text, bytes(raw))
        return await self._score_batch(text, key)

    async def classify_text(self, text: str, key: str | None = None) -> Verdict:
        """The verdict for a text already made by ``serve.text.model_text``."""
        if not isinstance(text, str):
            raise BadMessageError(f"text must be str, not {type(text).__name__}", 400)
        return await self._score_batch(text, key)

    @http.post("/")
    async def classify_http(self, request: Request) -> JSONResponse:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self._max_bytes:
            return JSONResponse(
                {"error": f"message exceeds {self._max_bytes} bytes"}, status_code=413
            )
        raw = await request.body()
        try:
            verdict = await self.classify(raw)
        except BadMessageError as exc:
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        return JSONResponse(verdict.to_json())


def build_app(config: Config) -> serve.Application:
    """The classifier application, sized from ``config.classifier``."""
    settings = config.classifier
    return Classifier.options(
        autoscaling_config={
            "min_replicas": settings.min_replicas,
            "max_replicas": settings.max_replicas,
            "target_ongoing_requests": settings.target_ongoing_requests,
        },
        max_ongoing_requests=settings.max_ongoing_requests,
        ray_actor_options={"num_cpus": settings.num_cpus},
        logging_config={"enable_access_log": settings.access_log},
    ).bind(config)


def run_app(config: Config, blocking: bool = False):
    """Deploy the app under its name and route prefix; returns its handle."""
    return serve.run(
        build_app(config), name=APP_NAME, route_prefix=ROUTE_PREFIX, blocking=blocking
    )
