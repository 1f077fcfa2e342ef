"""Fixtures for knowledge tests: the real (int8) model, both vector stores, a small KB on disk.

``store`` is parametrised: each test that uses it runs on Qdrant Edge (a shard directory in
``tmp_path``) and on qdrant-client's local mode (the stand-in for a Qdrant server's API).
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from qdrant_client import AsyncQdrantClient

from config import Settings
from knowledge import ClientStore, EdgeStore, Embedder, KnowledgeBase, VectorStore
from tests.conftest import SHARED_MODELS, SettingsFactory

INT8 = SHARED_MODELS / "all-MiniLM-L6-v2-onnx-int8"

# A tiny help centre, written by the tests themselves; questions in the tests paraphrase it.
SMALL_KB: dict[str, str] = {
    "account/password-reset.md": """\
        ---
        title: Reset your password
        ---
        # Password help

        ## Example questions

        - I forgot my password
        - How do I change my login password?
        - The reset link in the email does not work

        ## Answer

        Open the sign-in page, choose "Forgot password" and follow the link we e-mail you.
        The link expires after 30 minutes.
        """,
    "billing/refunds.md": """\
        # Refunds

        ## Can I get my money back?

        We refund annual plans in full within 30 days of purchase. Monthly plans are not
        refunded, but you can cancel at any time and keep access until the period ends.
        """,
    "billing/cancel-subscription.md": """\
        # Cancel a subscription

        - How do I cancel my plan?
        - Stop automatic renewal
        - Close my paid account

        Go to Settings → Billing and press "Cancel plan". No more charges will be made.
        """,
    "shipping.html": """\
        <html><head><title>Shipping times</title></head><body>
        <h1>Delivery</h1>
        <p>Orders leave our warehouse within two business days. Standard delivery takes
        3–5 days in the EU and 7–10 days elsewhere. Every parcel has a tracking number.</p>
        </body></html>
        """,
    "security/two-factor.txt": """\
        Two-factor authentication adds a one-time code from an authenticator app to every
        sign-in. Turn it on under Settings → Security. If you lose your phone, use one of
        the backup codes you saved when you enabled it.
        """,
}


def write_kb(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path → text, dedented) under ``root``."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


@pytest.fixture
def kb_settings(make_settings: SettingsFactory) -> Settings:
    """Settings on the int8 model (about 2.5x faster than fp32, same ranking on small KBs)."""
    settings = (
        make_settings(SUPPORTBOT_EMBED_MODEL_PATH=str(INT8)) if INT8.is_dir() else make_settings()
    )
    if settings.embed_model_path is None or settings.sparse_model_path is None:
        pytest.skip("offline models not found (set SUPPORTBOT_EMBED_MODEL_PATH/SPARSE)")
    return settings


@pytest.fixture
def embedder(kb_settings: Settings) -> Embedder:
    """The real embedder; models are cached per process, so only the first test loads them."""
    return Embedder.from_settings(kb_settings)


STORES = ("edge", "client")


def open_store(kind: str, folder: Path) -> VectorStore:
    """A fresh store of ``kind`` ("edge" or "client") in ``folder``."""
    if kind == "edge":
        return EdgeStore(root=folder / "edge")
    return ClientStore(client=AsyncQdrantClient(path=str(folder / "qdrant")))


@pytest.fixture(params=STORES)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorStore]:
    """Each vector store in turn, empty."""
    opened = open_store(request.param, tmp_path)
    yield opened
    await opened.close()


@pytest.fixture
def kb(store: VectorStore, embedder: Embedder) -> KnowledgeBase:
    """An empty knowledge base on each store."""
    return KnowledgeBase(store=store, embedder=embedder)


@pytest.fixture
def small_kb(tmp_path: Path) -> Path:
    """The small help centre written to disk."""
    return write_kb(tmp_path / "kb", SMALL_KB)


KbWriter = Callable[[Path, dict[str, str]], Path]
