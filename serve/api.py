"""mailray's HTTP API as a Ray Serve application (``/api`` on the proxy).

    GET /api/search?q=TEXT[&mode=vector|text|hybrid][&user=ADDR][&label=spam|ham]
                   [&since=YYYY-MM-DD][&limit=N]
    GET /api/messages/{queue_id}/similar[?user=..&label=..&since=..&limit=N]

Both answer ``{"hits": [...]}``, each hit as ``SearchHit.to_json()``; bad
arguments get 400 with ``{"error": ...}``, an unknown queue id 404.

The model rollout (issue #5), as ``mailray model`` shows and controls it:

    GET  /api/model/status       serving version, canary phase and fraction
    GET  /api/model/history[?limit=N]   {"events": [...]}, newest first
    POST /api/model/promote      409 when no candidate is in canary
    POST /api/model/rollback
Embedding a query is model work, so it runs on a worker thread, never on
the replica's event loop.

The app is meant to grow: add a route as a method of :class:`Api`
decorated with ``@http.get``/``@http.post``; :func:`build_app` and
:func:`run_app` stay as they are.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse
from ray import serve

from cluster.config import Config
from storage.root import StorageRoot
from storage.search import more_like_this, search

if TYPE_CHECKING:
    from serve.embedding import Embedder

log = logging.getLogger("mailray.serve")

APP_NAME = "api"
ROUTE_PREFIX = "/api"

http = FastAPI(title="mailray API")


def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


@serve.deployment(name="Api")
@serve.ingress(http)
class Api:
    """Search now; feedback and model status are the next routes."""

    def __init__(self, config: Config, embedding_max_tokens: int = 128) -> None:
        self._root = StorageRoot.from_config(config.storage)
        self._config = config
        self._embedding_max_tokens = embedding_max_tokens
        # One thread: torch already uses every core for one query.
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="search")

    def _query_embedder(self, mode: str) -> Embedder | None:
        """The encoder, loaded by the first search that needs it (on the
        worker thread): until then the replica holds no torch at all."""
        if mode == "text":
            return None
        from serve.embedding import shared_embedder

        return shared_embedder(max_tokens=self._embedding_max_tokens)

    async def _in_worker(self, fn, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, lambda: fn(*args, **kwargs))

    @http.get("/search")
    async def search_route(
        self,
        q: str,
        mode: str = "hybrid",
        user: str | None = None,
        label: str | None = None,
        since: datetime | None = None,
        limit: int = Query(default=10),
    ) -> JSONResponse:
        try:
            hits = await self._in_worker(
                lambda: search(
                    self._root,
                    q,
                    user=user,
                    label=label,
                    since=since,
                    limit=limit,
                    mode=mode,
                    embedder=self._query_embedder(mode),
                )
            )
        except ValueError as exc:
            return _error(400, str(exc))
        return JSONResponse({"hits": [h.to_json() for h in hits]})

    @http.get("/messages/{queue_id}/similar")
    async def similar_route(
        self,
        queue_id: str,
        user: str | None = None,
        label: str | None = None,
        since: datetime | None = None,
        limit: int = Query(default=10),
    ) -> JSONResponse:
        try:
            hits = await self._in_worker(
                more_like_this,
                self._root,
                queue_id,
                user=user,
                label=label,
                since=since,
                limit=limit,
            )
        except KeyError:
            return _error(404, f"no indexed message with queue id {queue_id}")
        except ValueError as exc:
            return _error(400, str(exc))
        return JSONResponse({"hits": [h.to_json() for h in hits]})

    # -- the model rollout (issue #5) ------------------------------------------

    def _learning(self):
        from training.controller import LearningLoop

        return LearningLoop(self._config)

    @http.get("/model/status")
    async def model_status_route(self) -> JSONResponse:
        status = await asyncio.to_thread(lambda: self._learning().status())
        status.pop("last_action", None)
        return JSONResponse(status)

    @http.get("/model/history")
    async def model_history_route(self, limit: int = Query(default=50)) -> JSONResponse:
        from training.events import history

        if not 1 <= limit <= 1000:
            return _error(400, f"limit must be within 1..1000, got {limit}")
        events = await asyncio.to_thread(history, self._root, limit)
        return JSONResponse({"events": events})

    @http.post("/model/promote")
    async def model_promote_route(self) -> JSONResponse:
        return await self._model_action("promote")

    @http.post("/model/rollback")
    async def model_rollback_route(self) -> JSONResponse:
        return await self._model_action("rollback")

    async def _model_action(self, action: str) -> JSONResponse:
        learning = self._learning()
        try:
            done = await asyncio.to_thread(getattr(learning, action))
        except ValueError as exc:
            return _error(409, str(exc))
        return JSONResponse({"result": done, **learning.state().to_json()})


def build_app(config: Config, num_cpus: float = 0.25) -> serve.Application:
    """The API application; one small replica is plenty for search."""
    return Api.options(ray_actor_options={"num_cpus": num_cpus}).bind(config)


def run_app(config: Config, blocking: bool = False):
    """Deploy the app under its name and route prefix; returns its handle."""
    return serve.run(
        build_app(config), name=APP_NAME, route_prefix=ROUTE_PREFIX, blocking=blocking
    )
