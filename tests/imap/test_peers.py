"""Real IMAP clients against the server on 127.0.0.1, each result checked."""

from __future__ import annotations

import mailbox
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.imap.conftest import PASSWORD, USER, ImapUnderTest, simple_message
from tests.imap.test_feedback import feedback_rows

pytestmark = [pytest.mark.peer, pytest.mark.slow]


def need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (make peers installs it)")
    return path


def run(
    args: list[str], timeout_s: float = 60, **kwargs
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout_s, **kwargs
    )
    assert result.returncode == 0, (
        f"{args[0]} failed:\n{result.stdout}\n{result.stderr}"
    )
    return result


def wait_for(predicate, timeout_s: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_curl_reads_a_message_and_lists_folders(imap_server: ImapUnderTest) -> None:
    curl = need("curl")
    raw = simple_message("for curl")
    imap_server.deliver(raw)
    base = f"imap://127.0.0.1:{imap_server.port}"
    auth = ["--user", f"{USER}:{PASSWORD}", "--silent", "--show-error"]
    fetched = subprocess.run(
        [curl, *auth, f"{base}/INBOX;UID=1"],
        capture_output=True,
        timeout=30,
        check=True,
    ).stdout
    assert fetched == raw
    listing = run([curl, *auth, f"{base}/"]).stdout
    for name in ("INBOX", "Junk", "Sent", "Drafts", "Trash"):
        assert f'"{name}"' in listing
    status = run([curl, *auth, base, "-X", "STATUS INBOX (MESSAGES UNSEEN)"]).stdout
    assert "MESSAGES 1 UNSEEN 0" in status  # curl's FETCH read BODY[], setting \Seen


def test_fetchmail_downloads_and_deletes(
    imap_server: ImapUnderTest, tmp_path: Path
) -> None:
    fetchmail = need("fetchmail")
    for subject in ("first", "second"):
        imap_server.deliver(simple_message(subject))
    mbox = tmp_path / "fetched.mbox"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f"poll 127.0.0.1 service {imap_server.port} protocol IMAP auth password\n"
        f'  user "{USER}" password "{PASSWORD}" is "{USER}" here\n'
        f'  sslproto "" nokeep\n'
        f"  mda \"/bin/sh -c 'cat >> {mbox}; echo >> {mbox}'\"\n"
    )
    rc.chmod(0o600)
    env = {**os.environ, "HOME": str(tmp_path), "FETCHMAILHOME": str(tmp_path)}
    result = subprocess.run(
        [
            fetchmail,
            "-f",
            str(rc),
            "--nodetach",
            "-v",
            "--idfile",
            str(tmp_path / "ids"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = mbox.read_text()
    assert "Subject: first" in text and "Subject: second" in text
    client = imap_server.client()
    assert client.status("INBOX", "(MESSAGES)")[1] == [b'"INBOX" (MESSAGES 0)']
    client.logout()


def _getmailrc(imap_server: ImapUnderTest, home: Path) -> Path:
    out = home / "delivered"
    out.mkdir()
    rc = home / "getmailrc"
    # An external MDA: getmail refuses Maildir delivery when run as root (CI).
    rc.write_text(
        "[retriever]\n"
        "type = SimpleIMAPRetriever\n"
        "server = 127.0.0.1\n"
        f"port = {imap_server.port}\n"
        f"username = {USER}\n"
        f"password = {PASSWORD}\n"
        'mailboxes = ("INBOX",)\n'
        "[destination]\n"
        "type = MDA_external\n"
        "path = /bin/sh\n"
        f'arguments = ("-c", "cat > {out}/$(date +%s%N).eml")\n'
        "allow_root_commands = true\n"
        "[options]\n"
        "read_all = false\n"
        "delete = false\n"
    )
    return rc


def _delivered_subjects(folder: Path) -> set[str]:
    subjects = set()
    for path in folder.iterdir():
        found = re.search(rb"^Subject: (.*?)\r?$", path.read_bytes(), re.MULTILINE)
        if found:
            subjects.add(found.group(1).decode())
    return subjects


def _maildir_subjects(path: Path) -> set[str]:
    box = mailbox.Maildir(path, create=False)
    return {str(message["Subject"]) for message in box}


def test_getmail_retrieves_then_idle_sees_new_mail(
    imap_server: ImapUnderTest, tmp_path: Path
) -> None:
    getmail = need("getmail")
    imap_server.deliver(simple_message("before idle"))
    rc = _getmailrc(imap_server, tmp_path)
    base = [getmail, "--rcfile", str(rc), "--getmaildir", str(tmp_path)]
    run(base)
    assert _delivered_subjects(tmp_path / "delivered") == {"before idle"}

    idler = subprocess.Popen(
        [*base, "--idle", "INBOX"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(
            lambda: imap_server.server.server.idle_sessions == 1,
            timeout_s=60,
            what="getmail to enter IDLE",
        )
        imap_server.deliver(simple_message("during idle"))
        wait_for(
            lambda: "during idle" in _delivered_subjects(tmp_path / "delivered"),
            timeout_s=60,
            what="getmail --idle to fetch the new message",
        )
    finally:
        idler.terminate()
        idler.wait(10)


def test_offlineimap_syncs_both_ways(
    imap_server: ImapUnderTest, tmp_path: Path
) -> None:
    offlineimap = need("offlineimap")
    imap_server.deliver(simple_message("to the laptop"))
    rc = tmp_path / "offlineimaprc"
    local = tmp_path / "mail"
    rc.write_text(
        "[general]\n"
        "accounts = test\n"
        f"metadata = {tmp_path / 'meta'}\n"
        "[Account test]\n"
        "localrepository = local\n"
        "remoterepository = remote\n"
        "[Repository local]\n"
        "type = Maildir\n"
        f"localfolders = {local}\n"
        "[Repository remote]\n"
        "type = IMAP\n"
        "remotehost = 127.0.0.1\n"
        f"remoteport = {imap_server.port}\n"
        f"remoteuser = {USER}\n"
        f"remotepass = {PASSWORD}\n"
        "ssl = no\n"
        "starttls = no\n"
    )
    command = [offlineimap, "-c", str(rc), "-o", "-u", "basic"]
    run(command, timeout_s=120)
    assert _maildir_subjects(local / "INBOX") == {"to the laptop"}

    sent = mailbox.Maildir(local / "Sent", create=False)
    sent.add(simple_message("from the laptop"))
    run(command, timeout_s=120)
    client = imap_server.client()
    client.select("Sent", readonly=True)
    _, data = client.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert data[0][1] == b"Subject: from the laptop\r\n\r\n"
    client.logout()


def test_mbsync_two_way_with_local_move_to_junk(
    imap_server: ImapUnderTest, tmp_path: Path
) -> None:
    mbsync = need("mbsync")
    record = imap_server.deliver(simple_message("move me"), spam_score=0.2)[0]
    imap_server.deliver(simple_message("keep me"))
    local = tmp_path / "mail"
    local.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(
        "IMAPAccount acct\n"
        "Host 127.0.0.1\n"
        f"Port {imap_server.port}\n"
        f"User {USER}\n"
        f"Pass {PASSWORD}\n"
        "SSLType None\n"
        "AuthMechs LOGIN PLAIN\n"
        "\n"
        "IMAPStore remote\n"
        "Account acct\n"
        "\n"
        "MaildirStore local\n"
        f"Path {local}/\n"
        f"Inbox {local}/INBOX\n"
        "SubFolders Verbatim\n"
        "\n"
        "Channel sync\n"
        "Far :remote:\n"
        "Near :local:\n"
        "Patterns *\n"
        "Create Both\n"
        "Expunge Both\n"
        "SyncState *\n"
    )
    command = [mbsync, "-c", str(rc), "-a"]
    run(command)
    assert _maildir_subjects(local / "INBOX") == {"move me", "keep me"}

    inbox = local / "INBOX" / "cur"
    moving = next(
        path
        for path in [*inbox.iterdir(), *(local / "INBOX" / "new").iterdir()]
        if b"Subject: move me" in path.read_bytes()
    )
    target = local / "Junk" / "cur" / re.sub(r",U=\d+", "", moving.name)
    moving.rename(target)
    run(command)

    client = imap_server.client()
    assert client.status("INBOX", "(MESSAGES)")[1] == [b'"INBOX" (MESSAGES 1)']
    client.select("Junk", readonly=True)
    _, data = client.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert data[0][1] == b"Subject: move me\r\n\r\n"
    client.logout()
    (row,) = feedback_rows(imap_server, 1)
    assert (row["label"], row["queue_id"], row["model_score"]) == (
        "spam",
        record.queue_id,
        0.2,
    )


# The live suite's quirks that are not ours: two ENVELOPE comparisons of
# naive and aware datetimes, and imaplib having no MOVE command for the run
# without UIDs.
KNOWN_LIVETEST_QUIRKS = Counter({("FAIL", "test_fetch"): 2, ("ERROR", "test_move"): 1})
# A 10 us read timeout that Python rounds up to 1 ms, which a loopback NOOP
# usually beats (a failure) unless the machine is loaded (a pass); the
# test's tearDown then logs out under the same timeout, which may expire
# too (an error on the same test).
TIMING_QUIRK = "test_small_read_timeout_fail"


def test_imapclient_live_suite(tmp_path: Path) -> None:
    from imap.service import LocalImap
    from storage.root import StorageRoot
    from tests.imap.conftest import make_config

    # A short greet pause: the suite's connect-timeout test expects a
    # greeting that takes longer than one millisecond.
    config = make_config(tmp_path, greeting_delay_s=0.02)
    with LocalImap(config, StorageRoot.from_config(config.storage)) as server:
        ini = tmp_path / "livetest.ini"
        ini.write_text(
            "[DEFAULT]\n"
            "host = 127.0.0.1\n"
            f"port = {server.port}\n"
            "ssl = false\n"
            f"username = {USER}\n"
            f"password = {PASSWORD}\n"
        )
        result = subprocess.run(
            [sys.executable, "-m", "imapclient.livetest", str(ini)],
            capture_output=True,
            text=True,
            timeout=300,
        )
    output = result.stdout + result.stderr
    ran = re.search(r"^Ran (\d+) tests", output, re.MULTILINE)
    assert ran and int(ran.group(1)) > 50, output[-3000:]
    problems = Counter(re.findall(r"^(FAIL|ERROR): (\w+) ", output, re.MULTILINE))
    for outcome in ("FAIL", "ERROR"):
        assert problems.pop((outcome, TIMING_QUIRK), 0) <= 1
    assert problems == KNOWN_LIVETEST_QUIRKS, output[-6000:]
