"""The ``api`` Serve app: search and similar messages over HTTP."""

from __future__ import annotations

import httpx
import pytest

from cluster.config import load_config

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def api(fixture_store, serve_http_port):
    from ray import serve

    from serve.api import APP_NAME, run_app

    root, ids = fixture_store
    run_app(load_config(storage={"root": root.url}))
    with httpx.Client(
        base_url=f"http://127.0.0.1:{serve_http_port}/api", timeout=60
    ) as client:
        yield client, ids
    serve.delete(APP_NAME)


def test_search_route_answers_hits_best_first(api):
    client, ids = api
    response = client.get("/search", params={"q": "lottery prize", "limit": 3})
    assert response.status_code == 200
    hits = response.json()["hits"]
    assert len(hits) == 3
    assert hits[0]["queue_id"] == ids["lottery"]


@pytest.mark.parametrize("mode", ["vector", "text", "hybrid"])
def test_search_route_takes_mode_and_filters(api, mode):
    client, _ = api
    response = client.get(
        "/search",
        params={"q": "money", "mode": mode, "user": "bob@example.com", "label": "ham"},
    )
    assert response.status_code == 200
    for hit in response.json()["hits"]:
        assert hit["label"] == "ham"
        assert "bob@example.com" in hit["rcpt_tos"]


def test_similar_route_leaves_out_the_message_itself(api):
    client, ids = api
    response = client.get(f"/messages/{ids['pills']}/similar", params={"limit": 4})
    assert response.status_code == 200
    found = [h["queue_id"] for h in response.json()["hits"]]
    assert len(found) == 4
    assert ids["pills"] not in found


def test_similar_route_for_an_unknown_message_is_404(api):
    client, _ = api
    response = client.get(f"/messages/{'0' * 32}/similar")
    assert response.status_code == 404
    assert "no indexed message" in response.json()["error"]


@pytest.mark.parametrize(
    "params",
    [{"q": "x", "mode": "fuzzy"}, {"q": "x", "limit": 0}, {"q": "x", "label": "junk"}],
)
def test_bad_search_arguments_get_400_naming_the_parameter(api, params):
    client, _ = api
    response = client.get("/search", params=params)
    assert response.status_code == 400
    bad = next(k for k in ("mode", "limit", "label") if k in params and k != "q")
    assert bad in response.json()["error"]
