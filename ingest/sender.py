"""``mailray send``: deliver files, folders, mbox and Maildir over SMTP.

Each file in a folder is one message (a leading mbox ``From`` line is
dropped); a file given by name that holds several mbox messages, or ends in
``.mbox``, is split with :mod:`mailbox`; a Maildir is read with it too.
Several connections send at once; temporary refusals (4xx) are retried
with backoff, as an MTA would.
"""

from __future__ import annotations

import logging
import mailbox
import queue
import re
import smtplib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("mailray.ingest")

_EOL = re.compile(rb"\r?\n")
_MBOX_SEPARATOR = re.compile(rb"(?:^|\n)From \S+", re.MULTILINE)
MAX_BACKOFF_S = 5.0


@dataclass(frozen=True, slots=True)
class Outgoing:
    label: str
    """Where the message came from: a path, or ``path#index`` in an mbox."""
    data: bytes


@dataclass
class SendSummary:
    sent: int = 0
    refused: dict[str, str] = field(default_factory=dict)
    """Label to the final reply."""
    queue_ids: dict[str, str] = field(default_factory=dict)
    """Label to the queue id from the 250 reply."""

    def reasons(self) -> Counter[str]:
        return Counter(self.refused.values())


def strip_from_line(data: bytes) -> bytes:
    if data.startswith(b"From "):
        return data.split(b"\n", 1)[1] if b"\n" in data else b""
    return data


def to_crlf(data: bytes) -> bytes:
    """SMTP lines end in CRLF; files on disk often use bare LF."""
    data = _EOL.sub(b"\r\n", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def is_mbox_file(path: Path) -> bool:
    if path.suffix == ".mbox":
        return True
    with path.open("rb") as f:
        head = f.read(1 << 20)
    return head.startswith(b"From ") and len(_MBOX_SEPARATOR.findall(head)) > 1


def collect(paths: list[Path]) -> Iterator[Outgoing]:
    """Every message under ``paths``, in a stable order."""
    for path in paths:
        if path.is_dir():
            yield from _collect_folder(path)
        elif path.is_file():
            yield from _collect_file(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")


def _collect_folder(folder: Path) -> Iterator[Outgoing]:
    if all((folder / sub).is_dir() for sub in ("cur", "new", "tmp")):
        box = mailbox.Maildir(folder, factory=None, create=False)
        for key in sorted(box.keys()):
            yield Outgoing(f"{folder}#{key}", box.get_bytes(key))
        return
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            yield Outgoing(str(path), strip_from_line(path.read_bytes()))


def _collect_file(path: Path) -> Iterator[Outgoing]:
    if not is_mbox_file(path):
        yield Outgoing(str(path), strip_from_line(path.read_bytes()))
        return
    box = mailbox.mbox(path, create=False)
    for index, key in enumerate(box.keys()):
        yield Outgoing(f"{path}#{index}", box.get_bytes(key))


def send_all(
    messages: list[Outgoing],
    *,
    host: str,
    port: int,
    mail_from: str,
    rcpt_tos: list[str],
    connections: int = 8,
    timeout_s: float = 60.0,
    retry_for_s: float = 600.0,
    on_done: Callable[[Outgoing, str], None] | None = None,
) -> SendSummary:
    """Send every message over ``connections`` concurrent SMTP sessions.

    A temporary refusal (4xx, a dropped connection) is retried with backoff
    for up to ``retry_for_s`` per message, as a queueing MTA would."""
    if connections < 1:
        raise ValueError(f"connections must be >= 1, got {connections}")
    todo: queue.SimpleQueue[Outgoing | None] = queue.SimpleQueue()
    for message in messages:
        todo.put(message)
    for _ in range(connections):
        todo.put(None)
    summary = SendSummary()
    lock = threading.Lock()

    def record(message: Outgoing, reply: str) -> None:
        with lock:
            if reply.startswith("250"):
                summary.sent += 1
                summary.queue_ids[message.label] = reply.rsplit(" ", 1)[-1]
            else:
                summary.refused[message.label] = reply
        if on_done is not None:
            on_done(message, reply)

    def worker() -> None:
        client: smtplib.SMTP | None = None
        while (message := todo.get()) is not None:
            reply, client = _send_one(
                client,
                message,
                (host, port),
                mail_from,
                rcpt_tos,
                timeout_s,
                retry_for_s,
            )
            record(message, reply)
        if client is not None:
            _quit(client)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return summary


def _send_one(
    client: smtplib.SMTP | None,
    message: Outgoing,
    server: tuple[str, int],
    mail_from: str,
    rcpt_tos: list[str],
    timeout_s: float,
    retry_for_s: float,
) -> tuple[str, smtplib.SMTP | None]:
    """One message, retried on 4xx; returns the final reply and the client."""
    data = to_crlf(message.data)
    deadline = time.monotonic() + retry_for_s
    attempt = 0
    while True:
        attempt += 1
        try:
            if client is None:
                client = smtplib.SMTP(*server, timeout=timeout_s)
                client.ehlo("mailray-send")
            reply = _transaction(client, mail_from, rcpt_tos, data)
        except (OSError, smtplib.SMTPException) as exc:
            reply = f"421 4.4.2 connection failed: {exc}"
            client = None
        if reply.startswith("250"):
            return reply, client
        if not reply.startswith("4"):
            return reply, _reset(client)
        client = _reset(client)
        delay_s = min(MAX_BACKOFF_S, 0.1 * 2**attempt)
        if time.monotonic() + delay_s > deadline:
            return reply, client
        time.sleep(delay_s)


def _transaction(
    client: smtplib.SMTP, mail_from: str, rcpt_tos: list[str], data: bytes
) -> str:
    options = [f"SIZE={len(data)}"] if client.has_extn("size") else []
    if any(b > 127 for b in data) and client.has_extn("8bitmime"):
        options.append("BODY=8BITMIME")
    code, text = client.mail(mail_from, options)
    if code != 250:
        return _reply(code, text)
    accepted, last = 0, (0, b"")
    for rcpt in rcpt_tos:
        last = client.rcpt(rcpt)
        accepted += last[0] in (250, 251)
    if not accepted:
        return _reply(*last)
    try:
        code, text = client.data(data)
    except smtplib.SMTPDataError as exc:
        return _reply(exc.smtp_code, exc.smtp_error)
    return _reply(code, text)


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return f"{code} {text}"


def _reset(client: smtplib.SMTP | None) -> smtplib.SMTP | None:
    if client is None:
        return None
    try:
        client.rset()
        return client
    except (OSError, smtplib.SMTPException):
        return None


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()
