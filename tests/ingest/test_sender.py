"""mailray send: what it collects from disk and how it reports."""

from __future__ import annotations

import asyncio
import mailbox

from ingest.sender import Outgoing, collect, send_all, strip_from_line, to_crlf


def test_folder_files_are_one_message_each_without_mbox_from_line(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a").write_bytes(b"From x@y Mon Jan 1\nSubject: a\n\nA\n")
    (tmp_path / "sub" / "b").write_bytes(b"Subject: b\n\nFrom here on\n")
    (tmp_path / ".hidden").write_bytes(b"Subject: no\n\n")
    found = list(collect([tmp_path]))
    assert [m.data for m in found] == [
        b"Subject: a\n\nA\n",
        b"Subject: b\n\nFrom here on\n",
    ]


def test_mbox_file_is_split(tmp_path):
    path = tmp_path / "box"
    box = mailbox.mbox(path)
    for n in range(3):
        box.add(f"Subject: m{n}\n\nbody {n}\n".encode())
    box.flush()
    found = list(collect([path]))
    assert len(found) == 3
    assert [m.label.rsplit("#", 1)[1] for m in found] == ["0", "1", "2"]
    assert b"Subject: m2" in found[2].data


def test_maildir_is_read_whole(tmp_path):
    box = mailbox.Maildir(tmp_path / "md")
    box.add(b"Subject: one\n\n1\n")
    box.add(b"Subject: two\n\n2\n")
    assert len(list(collect([tmp_path / "md"]))) == 2


def test_lines_are_sent_with_crlf():
    assert to_crlf(b"a\nb\r\nc") == b"a\r\nb\r\nc\r\n"
    assert strip_from_line(b"From a b\nX: y\n") == b"X: y\n"


async def test_summary_counts_sent_and_refused_with_reasons(smtp_server):
    messages = [Outgoing("ok", b"Subject: ok\n\nhello\n")]

    def send(rcpt: str):
        return send_all(
            messages,
            host="127.0.0.1",
            port=smtp_server.port,
            mail_from="a@example.org",
            rcpt_tos=[rcpt],
            connections=2,
        )

    sent = await asyncio.to_thread(send, "test@example.com")
    assert sent.sent == 1 and not sent.refused
    assert sent.queue_ids["ok"] == smtp_server.accepted[0].queue_id

    refused = await asyncio.to_thread(send, "nobody@example.com")
    assert refused.sent == 0
    assert refused.refused["ok"].startswith("550 5.1.1")
