"""The stage cache: entries appear whole or not at all."""

from __future__ import annotations

import pytest

from harness.store import Store, content_key


def test_entry_appears_only_when_complete(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(RuntimeError):
        with store.writing("train", "k1", {"a": 1}) as tmp:
            (tmp / "half.bin").write_text("partial")
            raise RuntimeError("killed mid-stage")
    assert not store.done("train", "k1")
    assert not store.path("train", "k1").exists()
    assert list((tmp_path / "cache" / "train").iterdir()) == []

    with store.writing("train", "k1", {"a": 1}) as tmp:
        (tmp / "model.bin").write_text("weights")
    assert store.done("train", "k1")
    assert (store.path("train", "k1") / "model.bin").read_text() == "weights"


def test_rewriting_an_entry_replaces_it(tmp_path):
    store = Store(tmp_path)
    for value in ("old", "new"):
        with store.writing("decode", "k", {}) as tmp:
            (tmp / "v").write_text(value)
    assert (store.path("decode", "k") / "v").read_text() == "new"


def test_content_key_is_order_independent_and_sensitive():
    assert content_key({"a": 1, "b": [1, 2]}) == content_key({"b": [1, 2], "a": 1})
    assert content_key({"a": 1}) != content_key({"a": 2})
