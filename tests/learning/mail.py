"""Test mail built on the fly: a new spam campaign and an unusual user's ham.

Each message varies its sender, wording, amounts and link host, so no single
token gives the campaign away; a model has to learn its manner.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

_FIRST = ("Alex", "Maria", "Sam", "Priya", "Jonas", "Lena", "Tom", "Aiko", "Omar")
_LAST = ("Berg", "Novak", "Silva", "Khan", "Meyer", "Rossi", "Ito", "Haddad")

_CAMPAIGN_OPENERS = (
    "Your parcel could not be delivered because the customs fee was not settled.",
    "We tried to deliver your package today but nobody confirmed the address.",
    "A shipment addressed to you is waiting at our depot with an unpaid charge.",
    "Delivery of your order was paused: a small handling fee is outstanding.",
)
_CAMPAIGN_ASKS = (
    "Confirm your details and pay the {amount} fee within {hours} hours",
    "Settle the outstanding {amount} within {hours} hours to release it",
    "Reschedule now; the {amount} charge must be paid within {hours} hours",
)
_CAMPAIGN_THREATS = (
    "or the parcel will be returned to the sender.",
    "otherwise it is destroyed after the holding period.",
    "after which storage costs are added daily.",
)
_CAMPAIGN_HOSTS = (
    "parcel-release-{n}.info",
    "track-my-dlvry{n}.com",
    "customs-fee{n}.net",
    "redelivery-desk{n}.org",
)
_COURIERS = ("DPX Express", "ParcelNet", "Swift Logistics", "GlobeShip", "EuroPost")

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
    """``count`` messages of a parcel-fee phishing campaign."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        courier = rng.choice(_COURIERS)
        currency = rng.choice(("EUR", "USD", "GBP"))
        amount = f"{currency} {rng.randint(1, 4)}.{rng.randint(10, 99)}"
        host = rng.choice(_CAMPAIGN_HOSTS).format(n=rng.randint(2, 99))
        ask = rng.choice(_CAMPAIGN_ASKS).format(
            amount=amount, hours=rng.choice((24, 48, 72))
        )
        body = (
            f"Dear customer,\n\n{rng.choice(_CAMPAIGN_OPENERS)}\n\n"
            f"{ask} {rng.choice(_CAMPAIGN_THREATS)}\n\n"
            f"https://{host}/{rng.randint(10**5, 10**6)}\n\n"
            f"Tracking number: {rng.choice('ABCDEFGH')}{rng.randint(10**8, 10**9)}\n\n"
            f"{courier} customer service"
        )
        subject = rng.choice(
            (
                f"{courier}: delivery attempt failed",
                f"Action needed for shipment {rng.randint(1000, 9999)}",
                "Your package is on hold",
                f"Unpaid fee for parcel {rng.randint(10**5, 10**6)}",
            )
        )
        local = rng.choice(("noreply", "service", "info", "support"))
        address = f"{local}@{host}"
        out.append(_message(courier, address, to, subject, body, batch))
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
