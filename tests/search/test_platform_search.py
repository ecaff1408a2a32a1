"""Mail sent over SMTP to ``mailray up`` becomes searchable over HTTP."""

from __future__ import annotations

import time

import httpx
import pytest

from ingest.sender import Outgoing, send_all
from tests.cluster.conftest import launch, platform_settings  # noqa: F401
from tests.search.store import FIXTURES

pytestmark = [pytest.mark.slow, pytest.mark.ray]


def test_sent_mail_is_found_by_the_search_api(launch, tmp_path):  # noqa: F811
    settings = platform_settings(tmp_path, search={"catch_up_interval_s": 1.0})
    platform = launch(settings)
    endpoints = platform.wait_ready()
    port = int(endpoints.smtp.rsplit(":", 1)[1])

    names = ("invoice", "hiking", "lottery")
    summary = send_all(
        [Outgoing(n, (FIXTURES / f"{n}.eml").read_bytes()) for n in names],
        host="127.0.0.1",
        port=port,
        mail_from="search@example.org",
        rcpt_tos=["test@example.com"],
        connections=1,
    )
    assert summary.sent == len(names)

    deadline = time.monotonic() + 300
    hits: list[dict] = []
    with httpx.Client(base_url=f"{endpoints.http}/api", timeout=60) as client:
        while time.monotonic() < deadline:
            response = client.get(
                "/search", params={"q": "overdue invoice payment", "mode": "hybrid"}
            )
            assert response.status_code == 200
            hits = response.json()["hits"]
            if len(hits) == len(names):
                break
            time.sleep(2)
        assert len(hits) == len(names)
        assert hits[0]["subject"] == "Invoice 4471 is overdue"

        similar = client.get(f"/messages/{hits[0]['queue_id']}/similar")
        assert similar.status_code == 200
        assert len(similar.json()["hits"]) == len(names) - 1
