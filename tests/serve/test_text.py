"""model_text: the one representation for training and serving."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.mime import parse_message
from serve.text import clean_subject, message_text, model_text, normalise_links

MAIL = Path(__file__).resolve().parent.parent / "fixtures" / "mail"


def _text(name: str) -> str:
    return message_text((MAIL / name).read_bytes())


def test_text_starts_with_subject_sender_and_counts():
    text = _text("latin1_qp.eml")

    assert text.startswith("Subject: Café à midi\nFrom: René Dupré at example.org\n")
    assert "To: 2 Cc: 1" in text


def test_links_become_hosts_and_addresses_a_placeholder():
    text = _text("latin1_qp.eml")

    assert "example.org" in text
    assert "menu" not in text
    assert "rene@" not in text
    assert "(address)" in text


def test_html_only_and_attachments_are_named_not_inlined():
    html = _text("html_only_b64.eml")
    mixed = _text("nested_alternative.eml")

    assert "Shape: html only" in html
    assert "1 attachments: menu.pdf (application/pdf)" in mixed
    assert "JVBER" not in mixed


def test_corpus_artefacts_never_reach_the_model():
    text = _text("mailing_list_footer.eml")

    assert "[dev-list]" not in text
    assert "Subject: Re: build broken in" in text
    assert "2002" not in text
    assert "yyyy" not in text
    assert "mailing list" not in text
    assert "listinfo" not in text
    assert "The build is fixed now" in text


def test_line_endings_do_not_change_the_text():
    raw = (MAIL / "latin1_qp.eml").read_bytes()

    assert message_text(raw) == message_text(raw.replace(b"\n", b"\r\n"))


def test_whitespace_is_collapsed_in_the_body():
    body = model_text(parse_message(b"Subject: s\n\na  \n\n\t b")).splitlines()[-1]

    assert body == "a b"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("[ILUG] hello", "hello"),
        ("Re: [SAtalk] Re: hi", "Re: Re: hi"),
        ("no tag [here]", "no tag [here]"),
        ("", ""),
    ],
)
def test_clean_subject_table(subject, expected):
    assert clean_subject(subject) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see http://www.Example.com/a?b=c now", "see example.com now"),
        ("ftp://user@files.example.net:21/x", "files.example.net"),
        ("mail me@host.example.org", "mail (address)"),
        ("www.shop.example/deal", "shop.example"),
    ],
)
def test_normalise_links_table(text, expected):
    assert " ".join(normalise_links(text).split()) == expected


@pytest.mark.corpus
def test_every_mime_torture_message_produces_text(mime_torture):
    for path in mime_torture.rglob("*.eml"):
        assert message_text(path.read_bytes()).strip(), path
