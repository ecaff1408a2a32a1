"""The classify stage: concurrent calls to the Serve classifier.

All messages of a batch are sent at once so the deployment's
``@serve.batch`` can fill its batches; the stage itself does no model work.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ingest.records import ClassifiedWork, ParsedWork
from ingest.stage import StageLoop
from serve.classifier import APP_NAME as CLASSIFIER_APP


class ClassifyStage(StageLoop):
    stage = "classify"
    # Batches in flight at once: while one batch's verdicts come back and
    # move on, the next is already filling the deployment's @serve.batch.
    concurrency = 3

    def __init__(self, *args: Any, app_name: str = CLASSIFIER_APP) -> None:
        super().__init__(*args)
        self._app_name = app_name
        self._classifier: Any = None
        self._model_versions: dict[str, int] = {}

    async def process(self, batch: list[ParsedWork]) -> list[Any]:
        try:
            handle = self._get_handle()
        except Exception as exc:  # Serve not up yet: every item retries
            return [exc] * len(batch)
        # The queue id routes the message during a canary (issue #5).
        calls = [
            handle.classify_text.remote(work.text, work.queue_id) for work in batch
        ]
        verdicts = await asyncio.gather(*calls, return_exceptions=True)
        results: list[Any] = []
        for work, verdict in zip(batch, verdicts, strict=True):
            if isinstance(verdict, BaseException):
                results.append(verdict)
                continue
            version = verdict.model_version
            self._model_versions[version] = self._model_versions.get(version, 0) + 1
            results.append(
                ClassifiedWork(
                    received=work.received, parsed=work.parsed, verdict=verdict
                )
            )
        return results

    async def stats(self) -> dict[str, Any]:
        out = await super().stats()
        out["model_versions"] = dict(self._model_versions)
        return out

    def _get_handle(self) -> Any:
        if self._classifier is None:
            from ray import serve

            self._classifier = serve.get_app_handle(self._app_name)
        return self._classifier
