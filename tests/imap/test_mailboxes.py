"""Mailbox commands and the prefs CLI."""

from __future__ import annotations

from typer.testing import CliRunner

from imap.prefs import get_prefs
from tests.imap.conftest import USER, simple_message
from tests.imap.wire_client import WireClient


def test_standard_folders_carry_special_use(client) -> None:
    _, listing = client.list()
    assert b'(\\Junk \\HasNoChildren) "/" "Junk"' in listing
    assert b'(\\Sent \\HasNoChildren) "/" "Sent"' in listing
    assert b'(\\Drafts \\HasNoChildren) "/" "Drafts"' in listing
    assert b'(\\Trash \\HasNoChildren) "/" "Trash"' in listing
    _, subscribed = client.lsub()
    assert len(subscribed) == 5


def test_list_with_empty_pattern_returns_the_delimiter(imap_server) -> None:
    wire = WireClient(imap_server.port)
    wire.send(b'l LOGIN "alice@example.com" "wonderland"\r\na LIST "" ""\r\n')
    wire.until_tagged(b"l")
    assert wire.until_tagged(b"a")[0] == b'* LIST (\\Noselect) "/" ""'


def test_create_rename_delete_own_folders(imap_server, client) -> None:
    assert client.create("Projects/2024")[0] == "OK"
    _, listing = client.list('""', "Projects*")
    assert listing == [
        b'(\\HasChildren) "/" "Projects"',
        b'(\\HasNoChildren) "/" "Projects/2024"',
    ]
    assert client.list('""', "%")[1].count(b'(\\HasChildren) "/" "Projects"') == 1
    client.append("Projects/2024", None, None, simple_message("filed"))
    assert client.rename("Projects", "Archive")[0] == "OK"
    assert client.status("Archive/2024", "(MESSAGES)")[1] == [
        b'"Archive/2024" (MESSAGES 1)'
    ]
    assert client.delete("Archive")[0] == "NO"
    assert client.delete("Archive/2024")[0] == "OK"
    assert client.delete("Archive")[0] == "OK"
    assert client.delete("INBOX")[0] == "NO"
    assert client.create("Junk")[0] == "NO"


def test_rename_inbox_moves_its_messages(imap_server, client) -> None:
    imap_server.deliver(simple_message())
    assert client.rename("INBOX", "Old")[0] == "OK"
    assert client.status("INBOX", "(MESSAGES)")[1] == [b'"INBOX" (MESSAGES 0)']
    assert client.status("Old", "(MESSAGES)")[1] == [b'"Old" (MESSAGES 1)']


def test_status_counts(imap_server, client) -> None:
    for subject in ("a", "b", "c"):
        imap_server.deliver(simple_message(subject))
    client.select("INBOX")
    client.store("1", "+FLAGS", "(\\Seen)")
    client.close()
    _, data = client.status("INBOX", "(MESSAGES RECENT UNSEEN UIDNEXT)")
    assert data == [b'"INBOX" (MESSAGES 3 RECENT 0 UNSEEN 2 UIDNEXT 4)']


def test_prefs_cli_edits_threshold_and_lists(imap_server) -> None:
    import typer

    from imap import commands

    app = typer.Typer()
    commands.register(app)
    env = {
        "MAILRAY_IMAP_METADATA_PATH": imap_server.config.imap.metadata_path,
        "MAILRAY_STORAGE_ROOT": imap_server.config.storage.root,
        "MAILRAY_USERS": "[]",
    }
    runner = CliRunner()
    for args in (
        ["prefs", "threshold", "--user", USER, "0.7"],
        ["prefs", "allow", "--user", USER, "Friend@Club.test"],
        ["prefs", "block", "--user", USER, "@spam.test"],
        ["prefs", "block", "--user", USER, "x@junk.test"],
        ["prefs", "unblock", "--user", USER, "x@junk.test"],
    ):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, result.output
    prefs = get_prefs(imap_server.server.server.store, USER)
    assert prefs.spam_threshold == 0.7
    assert prefs.allow_senders == {"friend@club.test"}
    assert prefs.block_domains == {"spam.test"}
    assert prefs.block_senders == frozenset()
    shown = runner.invoke(app, ["prefs", "show", "--user", USER], env=env)
    assert "spam_threshold: 0.7" in shown.output
    bad = runner.invoke(app, ["prefs", "threshold", "--user", USER, "7"], env=env)
    assert bad.exit_code == 1 and "threshold" in bad.output
    unknown = runner.invoke(app, ["prefs", "show", "--user", "nobody"], env=env)
    assert unknown.exit_code == 1
