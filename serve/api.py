"""mailray's HTTP API as a Ray Serve application (``/api`` on the proxy).

    GET /api/search?q=TEXT[&mode=vector|text|hybrid][&user=ADDR][&label=spam|ham]
                   [&since=YYYY-MM-DD][&limit=N]
    GET /api/messages/{queue_id}/similar[?user=..&label=..&since=..&limit=N]

Both answer ``{"hits": [...]}``, each hit as ``SearchHit.to_json()``; bad
arguments get 400 with ``{"error": ...}``, an unknown queue id 404.
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
from typing import Any

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse
from ray import serve

from cluster.config import Config
from storage.root import StorageRoot
from storage.search import more_like_this, search

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
        from serve.embedding import shared_embedder

        self._root = StorageRoot.from_config(config.storage)
        self._embedder = shared_embedder(max_tokens=embedding_max_tokens)
        # One thread: torch already uses every core for one query.
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="search")

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
                search,
                self._root,
                q,
                user=user,
                label=label,
                since=since,
                limit=limit,
                mode=mode,
                embedder=self._embedder,
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


def build_app(config: Config, num_cpus: float = 0.25) -> serve.Application:
    """The API application; one small replica is plenty for search."""
    return Api.options(ray_actor_options={"num_cpus": num_cpus}).bind(config)


def run_app(config: Config, blocking: bool = False):
    """Deploy the app under its name and route prefix; returns its handle."""
    return serve.run(
        build_app(config), name=APP_NAME, route_prefix=ROUTE_PREFIX, blocking=blocking
    )
