"""An IMAP server per test on a free loopback port, without Ray."""

from __future__ import annotations

import contextlib
import imaplib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

import pytest

from cluster.config import Config, ImapConfig, SmtpConfig, StorageConfig, UserConfig
from imap.metadata import DeliveryRecord
from imap.objects import RawObjects, raw_key_for
from imap.service import LocalImap
from ingest.types import StoredMessage
from storage.root import StorageRoot
from tests.conftest import free_port

USER = "alice@example.com"
PASSWORD = "wonderland"
OTHER = "bob@example.com"
OTHER_PASSWORD = "builder"


def make_config(tmp_path: Path, **imap: object) -> Config:
    return Config(
        storage=StorageConfig(root=str(tmp_path / "store")),
        smtp=SmtpConfig(port=free_port(), domains=("example.com",)),
        imap=ImapConfig(
            host="127.0.0.1",
            port=free_port(),
            metadata_path=str(tmp_path / "metadata.sqlite3"),
            login_failure_delay_s=0.01,
            feedback_flush_interval_s=0.1,
            **imap,
        ),
        http={"port": free_port()},
        users=(
            UserConfig(name=USER, password=PASSWORD, addresses=(USER,)),
            UserConfig(name=OTHER, password=OTHER_PASSWORD, addresses=(OTHER,)),
        ),
    )


def simple_message(subject: str = "hello", body: str = "Hi there.\r\n") -> bytes:
    return (
        "From: Carol Sender <carol@sender.test>\r\n"
        f"To: {USER}\r\n"
        f"Subject: {subject}\r\n"
        "Date: Tue, 16 Mar 2010 16:45:32 +0000\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@sender.test>\r\n"
        "\r\n"
        f"{body}"
    ).encode()


def header_value(raw: bytes, name: str) -> str:
    fields = BytesHeaderParser(policy=compat32).parsebytes(raw)
    return str(fields.get(name, ""))


@dataclass
class ImapUnderTest:
    """A running server, its storage root and a way to deliver mail to it."""

    server: LocalImap
    root: StorageRoot
    config: Config

    @property
    def port(self) -> int:
        return self.server.port

    def stored(
        self,
        raw: bytes,
        rcpt_tos: tuple[str, ...] = (USER,),
        spam_score: float = 0.01,
        mail_from: str = "carol@sender.test",
        queue_id: str | None = None,
    ) -> StoredMessage:
        """Write ``raw`` under objects/raw as the store stage would."""
        queue_id = queue_id or uuid.uuid4().hex
        key = raw_key_for(queue_id)
        RawObjects(self.root).write(key, raw)
        return StoredMessage(
            queue_id=queue_id,
            mail_from=mail_from,
            rcpt_tos=rcpt_tos,
            received_at=datetime.now(UTC).replace(microsecond=0),
            size=len(raw),
            raw_key=key,
            message_id=header_value(raw, "Message-ID"),
            subject=header_value(raw, "Subject"),
            from_=header_value(raw, "From"),
            spam_score=spam_score,
            label="spam" if spam_score >= 0.5 else "ham",
            model_version="test-v1",
        )

    def deliver(self, raw: bytes, **kwargs: object) -> list[DeliveryRecord]:
        return self.server.deliver([self.stored(raw, **kwargs)])

    def client(self, user: str = USER, password: str = PASSWORD) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=30)
        client.login(user, password)
        return client


@pytest.fixture
def imap_server(tmp_path: Path) -> Iterator[ImapUnderTest]:
    config = make_config(tmp_path)
    root = StorageRoot.from_config(config.storage)
    server = LocalImap(config, root)
    server.start()
    try:
        yield ImapUnderTest(server=server, root=root, config=config)
    finally:
        server.stop()


@pytest.fixture
def client(imap_server: ImapUnderTest) -> Iterator[imaplib.IMAP4]:
    client = imap_server.client()
    try:
        yield client
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()


Deliver = Callable[..., list[DeliveryRecord]]
