"""Where a delivered message goes, per recipient: a pure decision.

The model's score belongs to the message; the mailbox it lands in is the
recipient's business. Their allow and block lists of senders and domains
override the model, and their own threshold replaces the model's label.
Precedence, most specific first: an allowed sender, a blocked sender, an
allowed domain, a blocked domain, then the score. Every decision carries
the reasons behind it, in words, for the delivery record.
"""

from __future__ import annotations

from dataclasses import dataclass

INBOX = "INBOX"
JUNK = "Junk"


@dataclass(frozen=True, slots=True)
class UserPrefs:
    """A user's spam preferences; addresses and domains are lower case."""

    spam_threshold: float | None = None
    """``None`` follows the model's own label."""
    allow_senders: frozenset[str] = frozenset()
    allow_domains: frozenset[str] = frozenset()
    block_senders: frozenset[str] = frozenset()
    block_domains: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Routing:
    mailbox: str
    reasons: tuple[str, ...]


def decide_mailbox(
    *,
    spam_score: float,
    model_label: str,
    model_version: str,
    senders: tuple[str, ...],
    prefs: UserPrefs,
) -> Routing:
    """INBOX or Junk for one recipient.

    ``senders`` are the addresses the message claims to come from (the
    envelope ``mail_from`` and the header From); a list entry matching any
    of them applies.
    """
    addresses = tuple(s.strip().lower() for s in senders if s and "@" in s)
    domains = tuple(a.rpartition("@")[2] for a in addresses)
    model = _model_reason(spam_score, model_label, model_version, prefs)

    for address in addresses:
        if address in prefs.allow_senders:
            return Routing(INBOX, (f"sender {address} is on the allow list", model))
    for address in addresses:
        if address in prefs.block_senders:
            return Routing(JUNK, (f"sender {address} is on the block list", model))
    for domain in domains:
        if domain in prefs.allow_domains:
            return Routing(INBOX, (f"domain {domain} is on the allow list", model))
    for domain in domains:
        if domain in prefs.block_domains:
            return Routing(JUNK, (f"domain {domain} is on the block list", model))

    return Routing(
        JUNK if _is_spam(spam_score, model_label, prefs) else INBOX, (model,)
    )


def _is_spam(spam_score: float, model_label: str, prefs: UserPrefs) -> bool:
    if prefs.spam_threshold is not None:
        return spam_score >= prefs.spam_threshold
    return model_label == "spam"


def _model_reason(
    spam_score: float, model_label: str, model_version: str, prefs: UserPrefs
) -> str:
    if prefs.spam_threshold is None:
        return (
            f"model {model_version} labelled it {model_label} (score {spam_score:.3f})"
        )
    relation = ">=" if spam_score >= prefs.spam_threshold else "<"
    return (
        f"model {model_version} score {spam_score:.3f} {relation} "
        f"user threshold {prefs.spam_threshold:.3f}"
    )
