"""The one text a message becomes for the model, in training and in serving.

A model learns whatever separates its training classes, including things
that only separate them in one corpus: the year the mail was sent, the
Received chain of the site that collected it, mailing-list footers, how
addresses were obfuscated. None of those reach the model. It sees what a
reader sees: the decoded subject, who it claims to be from, how many
recipients, the message's shape (HTML only, attachments by name and type)
and the body text, with links reduced to their host and addresses to a
placeholder.
"""

from __future__ import annotations

import re

from ingest.mime import parse_message
from ingest.types import ParsedMessage

MAX_BODY_CHARS = 3000
"""More than the model's token window ever holds; keeps tokenising cheap."""

_URL = re.compile(
    r"\b(?:(?:https?|ftp)://|www\.)"
    r"(?:[^\s/@<>\"']*@)?([A-Za-z0-9.-]+)(?::\d+)?[^\s<>\"']*",
    re.IGNORECASE,
)
_ADDRESS = re.compile(r"[\w.+=-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# Years date a message to its era; they say nothing about spam.
_YEAR = re.compile(r"\b(?:19[89]\d|20[0-4]\d)\b")
# The SpamAssassin corpus replaced recipients' names with these; spam that
# greets the recipient by name would otherwise teach the model the word.
_OBFUSCATED_NAME = re.compile(r"\b(?:zzzz|yyyy|xxxx)\w*", re.IGNORECASE)
_LIST_TAG = re.compile(r"^\s*((?:(?:re|fwd?|aw)\s*:\s*)*)\[[^\]]{1,40}\]\s*", re.I)
_SEPARATOR = re.compile(r"^\s*(?:[_=~-]{8,}.*|-- ?)$")
# Words that identify a mailing-list footer block (not an advertiser's own
# unsubscribe text, which is a real signal and stays).
_LIST_FOOTER = re.compile(
    r"listinfo|mailing list|groups sponsor|yahoogroups|egroups|list maintainer"
    r"|lists\.sourceforge|un\)?subscription information",
    re.IGNORECASE,
)
_FOOTER_LOOKAHEAD_LINES = 6


def _host(match: re.Match[str]) -> str:
    host = match.group(1).lower().strip(".")
    return f" {host.removeprefix('www.')} "


def normalise_links(text: str) -> str:
    """URLs become their host; e-mail addresses become a placeholder."""
    text = _URL.sub(_host, text)
    return _ADDRESS.sub(" (address) ", text)


def strip_artefacts(text: str) -> str:
    """Drop years and the corpus's obfuscated recipient names."""
    text = _YEAR.sub(" ", text)
    return _OBFUSCATED_NAME.sub(" ", text)


def strip_list_footers(text: str) -> str:
    """Drop mailing-list footers: a separator line and the block after it."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not _SEPARATOR.match(line):
            continue
        window = "\n".join(lines[i + 1 : i + 1 + _FOOTER_LOOKAHEAD_LINES])
        if _LIST_FOOTER.search(window):
            return "\n".join(lines[:i])
    return text


def clean_subject(subject: str) -> str:
    """The subject without a mailing list's ``[tag]``, reply prefixes kept."""
    return _LIST_TAG.sub(lambda m: m.group(1), subject, count=1).strip()


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _shape(parsed: ParsedMessage) -> str:
    signals = []
    if parsed.html_only:
        signals.append("html only")
    if parsed.attachments:
        named = [
            f"{a.filename or 'unnamed'} ({a.content_type})"
            for a in parsed.attachments[:8]
        ]
        signals.append(f"{len(parsed.attachments)} attachments: " + ", ".join(named))
    return "; ".join(signals) or "plain"


def model_text(parsed: ParsedMessage) -> str:
    """The model's input for a parsed message."""
    body = strip_list_footers(parsed.text[: MAX_BODY_CHARS * 2])
    body = _collapse(strip_artefacts(normalise_links(body)))[:MAX_BODY_CHARS]
    sender = _collapse(strip_artefacts(normalise_links(parsed.from_name)))
    subject = _collapse(strip_artefacts(clean_subject(parsed.subject)))
    return (
        f"Subject: {subject}\n"
        f"From: {sender or 'no name'} at {parsed.from_domain or 'no domain'}\n"
        f"To: {parsed.to_count} Cc: {parsed.cc_count}\n"
        f"Shape: {_shape(parsed)}\n"
        f"{body}"
    )


def message_text(raw: bytes) -> str:
    """``model_text(parse_message(raw))``."""
    return model_text(parse_message(raw))
