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


def test_damaged_entries_are_detected(tmp_path):
    from harness.store import Store

    store = Store(tmp_path)
    with store.writing("decode", "k1", {"a": 1}) as out:
        (out / "scores.json").write_text('{"accuracy": 0.5}')
        (out / "sub").mkdir()
        (out / "sub" / "w.bin").write_bytes(b"x" * 1000)
    assert store.problem("decode", "k1") is None and store.done("decode", "k1")
    assert store.problem("decode", "nope") == "missing"
    (store.path("decode", "k1") / "scores.json").write_text('{"accuracy": 0.9}')
    assert "checksum" in store.problem("decode", "k1")
    (store.path("decode", "k1") / "sub" / "w.bin").write_bytes(b"x" * 10)
    (store.path("decode", "k1") / "scores.json").unlink()
    assert "missing" in store.problem("decode", "k1")
    (store.path("decode", "k1") / "_complete.json").write_text("{trunc")
    assert "unreadable" in store.problem("decode", "k1")


def test_lock_removes_temporaries_of_dead_writers_and_reports_busy(tmp_path):
    import multiprocessing

    from harness.store import Store

    store = Store(tmp_path)
    stale = store.path("train", "k").parent / ".tmp-k-deadbeef"
    stale.mkdir(parents=True)
    assert not store.busy("train", "k")
    with store.lock("train", "k"):
        assert not stale.exists()
        probe = multiprocessing.get_context("spawn").Pool(1)
        assert probe.apply(Store(tmp_path).busy, ("train", "k"))
        probe.close()
    assert not store.busy("train", "k")


def test_processes_sharing_a_models_folder_build_each_model_once(tmp_path, monkeypatch):
    """Two resolvers of one unbuilt model at once (two runs, or two xdist workers, sharing
    ``$HARNESS_MODELS``): one builds, the other waits and uses its folder."""
    import threading
    import time

    from harness import resolver

    monkeypatch.setenv("HARNESS_MODELS", str(tmp_path))
    calls = []

    def build(name, path, weights=True):
        calls.append(name)
        time.sleep(0.5)  # long enough that an unlocked second resolver would build too
        path.mkdir(parents=True, exist_ok=True)
        (path / "config.json").write_text("{}")
        return path

    monkeypatch.setattr(resolver, "build", build)
    got = []
    threads = [threading.Thread(target=lambda: got.append(resolver.resolve("tiny-weak")))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["tiny-weak"] and len(set(got)) == 1, calls
