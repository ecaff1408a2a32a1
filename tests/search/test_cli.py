"""``mailray search`` driven as a user runs it."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from storage import search_commands


@pytest.fixture
def cli(fixture_store, monkeypatch):
    root, ids = fixture_store
    monkeypatch.setenv("MAILRAY_STORAGE_ROOT", root.url)
    monkeypatch.delenv("MAILRAY_CONFIG", raising=False)
    app = typer.Typer()
    search_commands.register(app)
    app.command("noop")(lambda: None)  # more than one command: subcommand names

    def run(*args: str):
        return CliRunner().invoke(app, ["search", *args])

    return run, ids


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_search_prints_json_lines_best_first(cli):
    run, ids = cli
    result = run("invoice overdue payment", "--json", "--limit", "3")
    assert result.exit_code == 0, result.output
    hits = _lines(result.stdout)
    assert len(hits) == 3
    assert hits[0]["queue_id"] == ids["invoice"]
    assert set(hits[0]) >= {"queue_id", "score", "subject", "from", "label", "date"}


def test_search_filters_by_label_and_since(cli):
    run, _ = cli
    result = run(
        "money",
        "--mode",
        "vector",
        "--label",
        "spam",
        "--since",
        "2024-05-08",
        "--json",
    )
    assert result.exit_code == 0, result.output
    hits = _lines(result.stdout)
    assert {h["label"] for h in hits} == {"spam"}
    assert {h["subject"] for h in hits} == {
        "Instant loan approval, bad credit ok",
        "Free spins bonus at our online casino",
    }


def test_user_option_takes_a_recipient_address(cli):
    run, ids = cli
    result = run("anything at all", "--user", "alice@example.com", "--json")
    assert result.exit_code == 0, result.output
    found = {h["queue_id"] for h in _lines(result.stdout)}
    assert found == {ids[n] for n in ("pills", "lottery", "meeting", "review")}


def test_like_lists_similar_messages_in_a_table(cli):
    run, ids = cli
    result = run("--like", ids["casino"], "--limit", "2", "--mode", "vector")
    assert result.exit_code == 0, result.output
    assert "score" in result.stdout and "subject" in result.stdout
    assert ids["casino"] not in result.stdout


def test_unknown_like_id_says_so(cli):
    run, _ = cli
    result = run("--like", "f" * 32)
    assert result.exit_code == 1
    assert "no indexed message" in result.stderr


@pytest.mark.parametrize(
    "args",
    [(), ("text", "--like", "abc"), ("text", "--mode", "fuzzy"), ("x", "--limit", "0")],
)
def test_bad_invocations_exit_with_usage_error(cli, args):
    run, _ = cli
    assert run(*args).exit_code == 2


def test_recipients_for_a_configured_user_are_their_addresses():
    from cluster.config import UserConfig

    users = (
        UserConfig(name="bob", password="x", addresses=("bob@example.com", "b@x.org")),
    )
    assert search_commands.recipients_for("Bob", users) == (
        "bob@example.com",
        "b@x.org",
    )
    assert search_commands.recipients_for("c@x.org", users) == ("c@x.org",)
