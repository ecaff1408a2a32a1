"""Pure decisions: routing per recipient, feedback labels, login floods."""

from __future__ import annotations

import pickle

import pytest

from imap.delivery import DeliveryError
from imap.errors import CommandFailed, LiteralTooLarge, ProtocolError, UnknownUser
from imap.feedback import label_for_flags, label_for_transfer
from imap.login_guard import LoginGuard
from imap.routing import UserPrefs, decide_mailbox

SPAMMY = 0.9
HAMMY = 0.1


@pytest.mark.parametrize(
    "score, label, prefs, mailbox, reason",
    [
        (SPAMMY, "spam", UserPrefs(), "Junk", "labelled it spam"),
        (HAMMY, "ham", UserPrefs(), "INBOX", "labelled it ham"),
        (0.6, "spam", UserPrefs(spam_threshold=0.8), "INBOX", "< user threshold"),
        (0.3, "ham", UserPrefs(spam_threshold=0.2), "Junk", ">= user threshold"),
        (
            SPAMMY,
            "spam",
            UserPrefs(allow_senders=frozenset({"carol@sender.test"})),
            "INBOX",
            "sender carol@sender.test is on the allow list",
        ),
        (
            HAMMY,
            "ham",
            UserPrefs(block_domains=frozenset({"sender.test"})),
            "Junk",
            "domain sender.test is on the block list",
        ),
        (
            HAMMY,
            "ham",
            UserPrefs(
                block_senders=frozenset({"carol@sender.test"}),
                allow_domains=frozenset({"sender.test"}),
            ),
            "Junk",
            "sender carol@sender.test is on the block list",
        ),
        (
            SPAMMY,
            "spam",
            UserPrefs(
                allow_domains=frozenset({"sender.test"}),
                block_domains=frozenset({"sender.test"}),
            ),
            "INBOX",
            "domain sender.test is on the allow list",
        ),
        (
            SPAMMY,
            "spam",
            UserPrefs(allow_senders=frozenset({"someone@else.test"})),
            "Junk",
            "labelled it spam",
        ),
    ],
)
def test_mailbox_per_recipient(
    score: float, label: str, prefs: UserPrefs, mailbox: str, reason: str
) -> None:
    routing = decide_mailbox(
        spam_score=score,
        model_label=label,
        model_version="v1",
        senders=("Carol@Sender.test", ""),
        prefs=prefs,
    )
    assert routing.mailbox == mailbox
    assert reason in routing.reasons[0]
    assert any("model v1" in r for r in routing.reasons), "the model's view is kept"


def test_header_from_also_matches_lists() -> None:
    routing = decide_mailbox(
        spam_score=SPAMMY,
        model_label="spam",
        model_version="v1",
        senders=("bounce@mailer.test", "friend@club.test"),
        prefs=UserPrefs(allow_domains=frozenset({"club.test"})),
    )
    assert routing.mailbox == "INBOX"


@pytest.mark.parametrize(
    "source, destination, label",
    [
        ("INBOX", "Junk", "spam"),
        ("Archive", "Junk/Phishing", "spam"),
        (None, "Junk", "spam"),
        ("Junk", "INBOX", "ham"),
        ("Junk/Phishing", "Archive", "ham"),
        ("Junk", "Trash", None),
        ("Junk", "Trash/Old", None),
        ("Junk", "Junk/Sub", None),
        ("INBOX", "Archive", None),
        (None, "INBOX", None),
        ("INBOX", "Junkyard", None),
    ],
)
def test_transfer_labels(
    source: str | None, destination: str, label: str | None
) -> None:
    assert label_for_transfer(source, destination) == label


@pytest.mark.parametrize(
    "flags, label",
    [
        (["$Junk"], "spam"),
        (["$junk", "\\Seen"], "spam"),
        (["$NotJunk"], "ham"),
        (["$Junk", "$NotJunk"], None),
        (["\\Flagged"], None),
    ],
)
def test_flag_labels(flags: list[str], label: str | None) -> None:
    assert label_for_flags(flags) == label


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_login_guard_locks_after_max_failures_and_unlocks_after_window() -> None:
    clock = FakeClock()
    guard = LoginGuard(max_failures=3, window_s=60, base_delay_s=0.5, clock=clock)
    delays = [guard.failed("10.0.0.1", "Alice") for _ in range(3)]
    assert delays == [0.5, 1.0, 2.0]
    assert guard.locked_for_s("10.0.0.1", "alice") == pytest.approx(60)
    assert guard.locked_for_s("10.0.0.2", "alice") == 0
    assert guard.locked_for_s("10.0.0.1", "bob") == 0
    clock.now += 61
    assert guard.locked_for_s("10.0.0.1", "alice") == 0


def test_login_guard_forgets_failures_on_success() -> None:
    guard = LoginGuard(max_failures=2, clock=FakeClock())
    guard.failed("h", "u")
    guard.succeeded("h", "u")
    guard.failed("h", "u")
    assert guard.locked_for_s("h", "u") == 0


@pytest.mark.parametrize(
    "error",
    [
        ProtocolError("bad", "CODE"),
        CommandFailed("no", None),
        LiteralTooLarge(10, 5, "a1"),
        UnknownUser("x"),
        DeliveryError("q1", "gone"),
    ],
)
def test_exceptions_survive_pickling(error: Exception) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert copy.__dict__ == error.__dict__
    assert str(copy) == str(error)
