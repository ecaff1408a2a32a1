"""The same flow on an S3 root served by moto's server."""

from __future__ import annotations

import pytest

from ingest.sender import Outgoing, send_all
from ingest.spool import Spool
from storage.objects import RawStore
from storage.root import StorageRoot
from storage.sql import connect
from tests.cluster.conftest import config_of, platform_settings, wait_for_rows
from tests.conftest import FIXTURES, free_port

pytestmark = [pytest.mark.slow, pytest.mark.ray]


@pytest.fixture
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket="mail")
    yield endpoint
    server.stop()


def test_messages_flow_to_an_s3_root(launch, tmp_path, s3_endpoint):
    settings = platform_settings(
        tmp_path,
        storage={
            "root": "s3://mail/prod",
            "s3_endpoint_url": s3_endpoint,
            "s3_access_key_id": "testing",
            "s3_secret_access_key": "testing",
        },
    )
    platform = launch(settings)
    port = int(platform.wait_ready().smtp.rsplit(":", 1)[1])

    raw = (FIXTURES / "ingest" / "with-attachment.eml").read_bytes()
    messages = [Outgoing(f"m{i}", raw) for i in range(12)]
    summary = send_all(
        messages,
        host="127.0.0.1",
        port=port,
        mail_from="s3@example.org",
        rcpt_tos=["test@example.com"],
        connections=3,
    )
    assert summary.sent == 12

    # SIGTERM right away: a clean stop drains the pipeline and flushes;
    # whatever it could not finish in time stays spooled for the next start.
    assert platform.stop(timeout_s=120) == 0
    spooled = len(list(Spool(settings["smtp"]["spool_dir"]).pending()))
    config = config_of(settings)
    stored_rows = connect(config).sql("SELECT count(*) FROM messages").fetchone()[0]
    assert stored_rows + spooled == 12
    if spooled:
        launch(settings)
        wait_for_rows(settings, "SELECT count(*) FROM messages", 12, timeout_s=300)

    con = connect(config)
    assert con.sql("SELECT count(*) FROM messages").fetchone() == (12,)
    assert con.sql("SELECT count(DISTINCT sha256) FROM attachments").fetchone() == (1,)
    key = con.sql("SELECT raw_key FROM messages LIMIT 1").fetchone()[0]
    stored = RawStore(StorageRoot.from_config(config.storage)).get(key)
    assert stored.startswith(b"Received: ") and stored.endswith(raw)
