"""Every notebook runs top to bottom on a small store and draws its plots."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage.root import StorageRoot
from tests.conftest import FIXTURES, REPO
from tests.search.store import build_store

pytestmark = pytest.mark.slow

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def notebook_store(tmp_path_factory) -> tuple[StorageRoot, dict[str, str]]:
    from imap.feedback import FeedbackEvent
    from imap.feedback_table import FeedbackTable
    from serve.embedding import shared_embedder

    root = StorageRoot(url=str(tmp_path_factory.mktemp("notebooks") / "store"))
    ids = build_store(root, shared_embedder())
    FeedbackTable(root).write(
        [
            FeedbackEvent(
                user="alice@example.com",
                queue_id=ids["review"],
                message_id="<review@fixtures.mailray>",
                label=label,
                source="imap-move",
                mailbox="Junk" if label == "spam" else "INBOX",
                created_at=datetime(2024, 5, day, 9, 0, tzinfo=UTC),
                model_score=0.03,
                model_label="ham",
                model_version="fixture-v1",
            )
            for day, label in ((11, "spam"), (12, "ham"), (12, "spam"))
        ]
    )
    return root, ids


def test_every_notebook_is_found():
    assert {p.name for p in NOTEBOOKS} >= {
        "explore_mail.ipynb",
        "search.ipynb",
        "model_versions.ipynb",
        "feedback_registry.ipynb",
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_renders_plots(path: Path, notebook_store, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    root, _ = notebook_store
    monkeypatch.setenv("MAILRAY_STORAGE_ROOT", root.url)
    monkeypatch.delenv("MAILRAY_CONFIG", raising=False)
    monkeypatch.setenv("MAILRAY_EVAL_CORPUS", str(FIXTURES / "tiny-corpus"))
    monkeypatch.setenv("MAILRAY_EVAL_SPLIT", "all")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")

    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()

    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0].ename}: {errors[0].evalue}"
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, f"{path.name} rendered no plot"
