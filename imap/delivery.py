"""The delivery hook: stored messages into each local recipient's mailbox.

The pipeline's store stage calls :meth:`Delivery.deliver` with a batch of
:class:`ingest.types.StoredMessage` after it is durably stored. For each
local recipient the mailbox (INBOX or Junk) is decided by
:func:`imap.routing.decide_mailbox` and recorded with its reasons. A
delivery is keyed by queue id and user, so a retried batch never
duplicates a message.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from email.utils import parseaddr

from imap.errors import ImapError
from imap.metadata import DeliveryItem, DeliveryRecord, MessageInfo, MetadataStore
from imap.objects import RawObjects
from imap.routing import decide_mailbox
from ingest.types import StoredMessage

log = logging.getLogger("mailray.imap")


class DeliveryError(ImapError):
    """A message cannot be delivered now; the caller should retry the batch."""

    def __init__(self, queue_id: str, reason: str) -> None:
        super().__init__(queue_id, reason)
        self.queue_id = queue_id
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.queue_id}: {self.reason}"


class Delivery:
    """Blocking delivery into the metadata store (run it off the event loop)."""

    def __init__(self, store: MetadataStore, objects: RawObjects) -> None:
        self.store = store
        self.objects = objects

    def deliver(self, messages: Sequence[StoredMessage]) -> list[DeliveryRecord]:
        items: list[DeliveryItem] = []
        for message in messages:
            items.extend(self._items(message))
        records = self.store.deliver(items)
        for record in records:
            log.info(
                "%s delivered to %s/%s uid %s%s: %s",
                record.queue_id,
                record.user,
                record.mailbox,
                record.uid,
                " (already)" if record.duplicate else "",
                "; ".join(record.reasons),
            )
        return records

    def _items(self, message: StoredMessage) -> list[DeliveryItem]:
        size = self._object_size(message)
        info = MessageInfo(
            queue_id=message.queue_id,
            raw_key=message.raw_key,
            size=size,
            message_id=message.message_id,
            spam_score=message.spam_score,
            label=message.label,
            model_version=message.model_version,
        )
        senders = (message.mail_from, parseaddr(message.from_)[1])
        items = []
        users_seen: set[int] = set()
        for rcpt in message.rcpt_tos:
            user = self.store.user_for_address(rcpt)
            if user is None or user.id in users_seen:
                continue
            users_seen.add(user.id)
            routing = decide_mailbox(
                spam_score=message.spam_score,
                model_label=message.label,
                model_version=message.model_version,
                senders=senders,
                prefs=self.store.get_prefs(user.id),
            )
            items.append(
                DeliveryItem(
                    user_id=user.id,
                    mailbox=routing.mailbox,
                    message=info,
                    internaldate=message.received_at,
                    reasons=routing.reasons,
                )
            )
        return items

    def _object_size(self, message: StoredMessage) -> int:
        """The stored object's real length; it must exist to be served."""
        path = self.objects.root.path(message.raw_key)
        try:
            size = int(self.objects.root.fs.size(path))
        except (FileNotFoundError, OSError) as exc:
            raise DeliveryError(
                message.queue_id, f"raw object {message.raw_key} unreadable: {exc}"
            ) from exc
        if size != message.size:
            log.warning(
                "%s stored size %d differs from the object's %d; serving the object",
                message.queue_id,
                message.size,
                size,
            )
        return size
