import pickle

import pytest

from storage.errors import ObjectNotFound, QueryError
from storage.objects import AttachmentStore, RawStore, attachment_key, raw_key
from storage.root import StorageRoot


def test_raw_message_round_trips_byte_for_byte(tmp_path):
    store = RawStore(StorageRoot(url=str(tmp_path)))
    raw = b"Received: x\r\n\r\n\x00\xffbody\r\n"
    key = store.put("abcdef", raw)
    assert key == "objects/raw/ab/abcdef.eml"
    assert store.get(key) == raw
    assert (tmp_path / key).read_bytes() == raw


def test_missing_raw_message_raises_object_not_found(tmp_path):
    with pytest.raises(ObjectNotFound):
        RawStore(StorageRoot(url=str(tmp_path))).get("objects/raw/ab/abc.eml")


def test_identical_attachments_are_stored_once(tmp_path):
    root = StorageRoot(url=str(tmp_path))
    payload = b"%PDF same bytes"
    key, new = AttachmentStore(root).put(payload)
    again_key, again_new = AttachmentStore(root).put(payload)
    assert new and not again_new and key == again_key
    assert len(list((tmp_path / "objects" / "attachments").rglob("*"))) == 2


@pytest.mark.parametrize("bad", ["", "a", "../x", "ab/cd"])
def test_raw_key_rejects_bad_queue_ids(bad):
    with pytest.raises(ValueError, match="queue_id"):
        raw_key(bad)


def test_attachment_key_rejects_non_digests():
    with pytest.raises(ValueError, match="sha256"):
        attachment_key("ABC")


@pytest.mark.parametrize("error", [ObjectNotFound("k"), QueryError("SELECT", "bad")])
def test_storage_errors_survive_pickling(error):
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is type(error) and str(clone) == str(error)
