"""The parse stage: MIME parsing and the classifier's input text."""

from __future__ import annotations

import asyncio
from typing import Any

from ingest.mime import parse_message
from ingest.records import ParsedWork
from ingest.stage import StageLoop
from ingest.types import ReceivedMessage
from serve.text import model_text


def parse_one(received: ReceivedMessage) -> ParsedWork:
    parsed = parse_message(received.raw)
    return ParsedWork(received=received, parsed=parsed, text=model_text(parsed))


def parse_batch(batch: list[ReceivedMessage]) -> list[ParsedWork | BaseException]:
    results: list[ParsedWork | BaseException] = []
    for received in batch:
        try:
            results.append(parse_one(received))
        except Exception as exc:  # one bad message must not fail the batch
            results.append(exc)
    return results


class ParseStage(StageLoop):
    stage = "parse"

    async def process(self, batch: list[Any]) -> list[Any]:
        # CPU-bound: off the actor's event loop so stats() stays responsive.
        return await asyncio.to_thread(parse_batch, batch)
