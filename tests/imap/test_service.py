"""The IMAP server as a Ray actor, fed by the delivery hook the pipeline calls."""

from __future__ import annotations

import imaplib
import pickle
import uuid
from pathlib import Path

import pytest

from imap.objects import RawObjects, raw_key_for
from imap.service import start_imap
from storage.root import StorageRoot
from tests.imap.conftest import (
    PASSWORD,
    USER,
    header_value,
    make_config,
    simple_message,
)
from tests.imap.wire_client import WireClient

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_actor_serves_mail_delivered_through_the_hook(
    ray_local, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from ingest.types import StoredMessage

    config = make_config(tmp_path)
    root = StorageRoot.from_config(config.storage)
    handles = start_imap(config, root, num_cpus=0.1, name=f"imap-{uuid.uuid4().hex}")
    try:
        assert handles.port == config.imap.port
        hook = pickle.loads(pickle.dumps(handles.delivery))

        wire = WireClient(handles.port)
        wire.send(f'l LOGIN "{USER}" "{PASSWORD}"\r\ns SELECT INBOX\r\n'.encode())
        wire.until_tagged(b"s")
        wire.send(b"i IDLE\r\n")
        assert wire.line().startswith(b"+ ")

        raw = simple_message("through ray")
        queue_id = uuid.uuid4().hex
        RawObjects(root).write(raw_key_for(queue_id), raw)
        message = StoredMessage(
            queue_id=queue_id,
            mail_from="carol@sender.test",
            rcpt_tos=(USER,),
            received_at=datetime.now(UTC),
            size=len(raw),
            raw_key=raw_key_for(queue_id),
            message_id=header_value(raw, "Message-ID"),
            subject="through ray",
            from_=header_value(raw, "From"),
            spam_score=0.1,
            label="ham",
            model_version="test-v1",
        )
        records = hook([message])
        assert [(r.mailbox, r.uid) for r in records] == [("INBOX", 1)]
        assert wire.line() == b"* 1 EXISTS"
        wire.send(b"DONE\r\n")
        wire.until_tagged(b"i")

        client = imaplib.IMAP4("127.0.0.1", handles.port, timeout=30)
        client.login(USER, PASSWORD)
        client.select("INBOX")
        _, data = client.fetch("1", "(BODY.PEEK[])")
        assert data[0][1] == raw
        client.logout()
    finally:
        import ray

        ray.get(handles.actor.stop.remote())
        ray.kill(handles.actor)
