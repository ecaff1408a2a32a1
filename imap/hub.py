"""Wakes sessions that have a mailbox selected when it changes."""

from __future__ import annotations

import asyncio
from collections import defaultdict


class MailboxHub:
    """Per mailbox id, the events of the sessions watching it (one event loop)."""

    def __init__(self) -> None:
        self._watchers: dict[int, set[asyncio.Event]] = defaultdict(set)

    def watch(self, mailbox_id: int) -> asyncio.Event:
        event = asyncio.Event()
        self._watchers[mailbox_id].add(event)
        return event

    def unwatch(self, mailbox_id: int, event: asyncio.Event) -> None:
        watchers = self._watchers.get(mailbox_id)
        if watchers is not None:
            watchers.discard(event)
            if not watchers:
                del self._watchers[mailbox_id]

    def notify(self, *mailbox_ids: int) -> None:
        for mailbox_id in mailbox_ids:
            for event in self._watchers.get(mailbox_id, ()):
                event.set()
