"""The IMAP server on an S3 storage root (moto's server on loopback)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from imap.service import LocalImap
from storage.root import StorageRoot
from tests.conftest import free_port
from tests.imap.conftest import ImapUnderTest, make_config, simple_message

pytestmark = pytest.mark.slow


@pytest.fixture
def s3_root(request) -> StorageRoot:
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    request.addfinalizer(server.stop)
    endpoint = f"http://127.0.0.1:{port}"
    bucket = f"mail-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    options = (
        ("key", "testing"),
        ("secret", "testing"),
        ("client_kwargs", {"endpoint_url": endpoint, "region_name": "us-east-1"}),
    )
    return StorageRoot(url=f"s3://{bucket}/store", storage_options=options)


def test_delivery_append_and_feedback_on_s3(
    s3_root: StorageRoot, tmp_path: Path
) -> None:
    config = make_config(tmp_path)
    with LocalImap(config, s3_root) as server:
        under_test = ImapUnderTest(server, s3_root, config)
        raw = simple_message("on s3")
        under_test.deliver(raw)
        client = under_test.client()
        client.select("INBOX")
        _, data = client.fetch("1", "(RFC822.SIZE BODY.PEEK[])")
        assert data[0][1] == raw and f"RFC822.SIZE {len(raw)}".encode() in data[0][0]

        appended = simple_message("appended to s3")
        client.append("INBOX", None, None, appended)
        client.select("INBOX")
        _, data = client.fetch("2", "(BODY.PEEK[])")
        assert data[0][1] == appended
        keys = s3_root.fs.glob(s3_root.path("objects/raw/ap/*.eml"))
        assert len(keys) == 1 and s3_root.fs.cat_file(keys[0]) == appended

        client.store("1", "+FLAGS", "($Junk)")
        client.logout()
        pattern = s3_root.path("tables/feedback/*/*.parquet")
        deadline = time.monotonic() + 15
        while not s3_root.fs.glob(pattern):
            assert time.monotonic() < deadline, "no feedback file on S3"
            time.sleep(0.2)
            s3_root.fs.invalidate_cache()
        (path,) = s3_root.fs.glob(pattern)
        with s3_root.fs.open(path, "rb") as handle:
            rows = pq.read_table(handle).to_pylist()
        assert [(r["label"], r["source"]) for r in rows] == [("spam", "imap-flag")]
