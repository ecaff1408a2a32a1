"""Test mail built on the fly: a new spam campaign and an unusual user's ham.

Each message varies its sender, firm, wording, amounts and account numbers,
so no single token gives the campaign away; a model has to learn its manner.
The campaign is the quiet kind (no links, no shouting) that a model trained
on loud 2000s spam lets through.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

_FIRST = ("Alex", "Maria", "Sam", "Priya", "Jonas", "Lena", "Tom", "Aiko", "Omar")
_LAST = ("Berg", "Novak", "Silva", "Khan", "Meyer", "Rossi", "Ito", "Haddad")

_CAMPAIGN_OPENERS = (
    "Hope the week is treating you well.",
    "Thanks again for the quick turnaround last month.",
    "Just a short note before the month-end run.",
    "Sorry to bother you with admin again.",
)
_CAMPAIGN_ASKS = (
    "Our accounts moved to {bank} this quarter, so the payment for invoice"
    " {invoice} should now go to sort code {sort}, account {account}.",
    "We changed banks recently: please send the {amount} for invoice {invoice}"
    " to the new {bank} account, sort code {sort}, number {account}.",
    "Could the remittance for invoice {invoice} ({amount}) be made to our new"
    " {bank} account instead? Sort code {sort}, account {account}.",
)
_CAMPAIGN_CLOSES = (
    "The old account closes on Friday, so anything sent there will bounce.",
    "Please don't use the details on file, they are no longer valid.",
    "Do let me know once it is scheduled so I can tell the auditors.",
)
_BANKS = ("Northbridge Bank", "Harbour Trust", "Crest Savings", "Unity Bank")
_FIRMS = ("Kestrel Supplies", "Mapleton Print", "Orchard Facilities", "Lumen Parts")

_SHIFT_TOPICS = (
    ("Telescope night", "The Dobsonian is collimated; meet at the field by 21:00."),
    ("Seed swap", "Bring labelled envelopes; tomatoes and beans are short."),
    ("Choir rota", "Altos cover Sunday; sopranos swap to the later slot."),
    ("Bike repair cafe", "We need two truing stands and spare brake cables."),
    ("Allotment water", "The trough valve leaks again; I left a bucket under it."),
    ("Chess club ladder", "Rematch on Thursday, board three, clocks at 25+5."),
    ("Beekeeping", "The second hive swarmed; the bait box caught most of them."),
    ("Pottery kiln", "Bisque firing is full; glaze firing has room on the top shelf."),
)


def _name(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def _message(
    sender: str,
    address: str,
    to: str,
    subject: str,
    body: str,
    batch: str | None = None,
) -> bytes:
    message = EmailMessage()
    if batch:
        # For the test's IMAP user to find them; the model never sees it.
        message["X-Scenario"] = batch
    message["From"] = f"{sender} <{address}>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=address.rpartition("@")[2])
    message.set_content(body)
    return bytes(message)


def campaign(
    count: int, seed: int, to: str = "test@example.com", batch: str | None = None
) -> list[bytes]:
    """``count`` messages of a quiet payment-redirection fraud: a "supplier"
    asks, in a colleague's tone, to pay an invoice into a new account."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        firm = rng.choice(_FIRMS)
        sender = _name(rng)
        invoice = f"{rng.choice('ABCDEFGH')}{rng.randint(1000, 9999)}"
        ask = rng.choice(_CAMPAIGN_ASKS).format(
            bank=rng.choice(_BANKS),
            invoice=invoice,
            amount=f"{rng.randint(800, 9800):,}.{rng.randint(10, 99)} GBP",
            sort=f"{rng.randint(10, 99)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}",
            account=f"{rng.randint(10**7, 10**8 - 1)}",
        )
        body = (
            f"Hi,\n\n{rng.choice(_CAMPAIGN_OPENERS)} {ask}\n"
            f"{rng.choice(_CAMPAIGN_CLOSES)}\n\n"
            f"Kind regards,\n{sender}\nAccounts, {firm}"
        )
        subject = rng.choice(
            (
                f"Invoice {invoice}",
                f"Re: invoice {invoice}",
                "Updated remittance details",
                f"{firm}: new bank details",
            )
        )
        domain = f"{firm.split()[0].lower()}-{rng.choice(('accounts', 'ltd', 'uk'))}"
        address = f"{sender.split()[0].lower()}@{domain}{rng.randint(2, 99)}.com"
        out.append(_message(sender, address, to, subject, body, batch))
    return out


def shifted_ham(
    count: int, seed: int, to: str = "test@example.com", batch: str | None = None
) -> list[bytes]:
    """Club and hobby mail, short and informal: unlike the training corpus."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        topic, line = rng.choice(_SHIFT_TOPICS)
        sender = _name(rng)
        body = (
            f"Hi all,\n\n{line}\n"
            f"{rng.choice(('Cheers', 'See you', 'Thanks', 'Ta'))},\n{sender.split()[0]}"
        )
        place = rng.choice(("club", "village", "hobby"))
        address = f"{sender.split()[0].lower()}@{place}-{rng.randint(1, 9)}.example"
        out.append(
            _message(sender, address, to, f"{topic} {rng.randint(1, 30)}", body, batch)
        )
    return out


_CLUBS = (
    ("Greenfield Garden Club", "greenfield-club"),
    ("Harbour Rowing Club", "harbour-rowing"),
    ("City Runners", "cityrunners"),
    ("Riverside Choir", "riverside-choir"),
)
_OFFERS = (
    "our spring plant sale is on! All seedlings half price, 3 for 2 on tomatoes.",
    "raffle tickets are only 2 pounds each and you could WIN a weekend break!",
    "exclusive member offer: 30% off club shirts and jackets this week only!",
    "FREE entry for members to the summer gala, bring friends at a discount!",
    "early bird tickets for the annual dinner are going fast, book today!",
)
_CLOSES = (
    "Reply to reserve yours, stock is limited.",
    "Order before Friday, limited sizes available!",
    "Don't miss out, offer ends soon!",
    "Every purchase supports the club, thank you!",
)


def club_offers(
    count: int, seed: int, to: str = "test@example.com", batch: str | None = None
) -> list[bytes]:
    """Legitimate club mail in a promotional tone: easy to mistake for spam."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        club, domain = rng.choice(_CLUBS)
        organiser = _name(rng)
        body = (
            f"Hi members,\n\n{rng.choice(_OFFERS)}\n{rng.choice(_CLOSES)}\n\n"
            f"{organiser}, {club} committee"
        )
        subject = (
            rng.choice(("Club news", "Members only", "This weekend", "Don't miss this"))
            + f" ({rng.randint(1, 52)})"
        )
        address = f"{organiser.split()[0].lower()}@{domain}.example"
        out.append(_message(club, address, to, subject, body, batch))
    return out
