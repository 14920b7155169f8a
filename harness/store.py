"""Content-addressed stage cache and run directories under ``$HARNESS_HOME``.

A stage's output lives in ``cache/<stage>/<key>/`` and only appears there complete: it is
written into a temporary sibling and renamed into place, so a killed run leaves no half entry.
The entry's ``_complete.json`` lists every file with its size and SHA-256, and a digest of that
list: the entry's content identity, which downstream cache keys are built from. Files below
``HASH_LIMIT`` are re-hashed whenever the entry is checked, so an entry damaged later (a
truncated or edited file) is noticed and recomputed.
A lock file per entry lets several runs share one home: the second waits for the first
to finish a stage, then reuses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

COMPLETE = "_complete.json"
HASH_LIMIT = 64 * 2**20
"""Files larger than this (model weights) are hashed once, when written, and later checked by
size only: re-hashing them at every run would cost minutes on a large model."""


def home() -> Path:
    return Path(os.environ.get("HARNESS_HOME", ".harness")).resolve()


def models_dir() -> Path:
    """``$HARNESS_MODELS``, else ``$HARNESS_HOME/models``: several homes may share models."""
    env = os.environ.get("HARNESS_MODELS")
    return Path(env).resolve() if env else home() / "models"


def content_key(spec: Any) -> str:
    """Stable short hash of a JSON-able spec."""
    blob = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


@contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Hold ``lock_file``'s exclusive lock (blocking): one process at a time in what it guards,
    across every process sharing the folder; released when the holder dies."""
    import fcntl

    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Store:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or home()

    def path(self, stage: str, key: str) -> Path:
        return self.root / "cache" / stage / key

    def done(self, stage: str, key: str) -> bool:
        return self.problem(stage, key) is None

    def problem(self, stage: str, key: str) -> str | None:
        """None when the entry is complete and intact; else ``missing`` or what is wrong."""
        entry = self.path(stage, key)
        try:
            record = json.loads((entry / COMPLETE).read_text())
        except FileNotFoundError:
            return "missing"
        except (OSError, ValueError):
            return f"{COMPLETE} is unreadable"
        files = record.get("files") if isinstance(record, dict) else None
        if not isinstance(files, dict) or "digest" not in record:
            return f"{COMPLETE} is unreadable"
        evicted = set(record.get("evicted", []))
        for name, (size, digest) in files.items():
            if name in evicted:
                continue
            path = entry / name
            if not path.is_file():
                return f"{name} is missing"
            if path.stat().st_size != size:
                return f"{name} has {path.stat().st_size} bytes, not {size}"
            if size <= HASH_LIMIT and _sha256(path) != digest:
                return f"{name} does not match its checksum"
        return None

    def evicted(self, stage: str, key: str) -> bool:
        """Whether ``harness cache gc`` dropped files of this entry (its digest stays valid:
        stages built on it are still served, but a stage that needs its files recomputes it)."""
        record = json.loads((self.path(stage, key) / COMPLETE).read_text())
        return bool(record.get("evicted"))

    def evict(self, stage: str, key: str, folder: str, dry_run: bool = False) -> int:
        """Delete ``folder`` of a complete entry, recording its files as evicted; the bytes
        that frees (or would free)."""
        entry = self.path(stage, key)
        with self.lock(stage, key):
            record = json.loads((entry / COMPLETE).read_text())
            gone = [name for name in record["files"]
                    if name == folder or name.startswith(f"{folder}/")]
            freed = sum(record["files"][name][0] for name in gone
                        if name not in record.get("evicted", []))
            if dry_run:
                return freed
            record["evicted"] = sorted(set(record.get("evicted", [])) | set(gone))
            write_json(entry / COMPLETE, record)
            shutil.rmtree(entry / folder, ignore_errors=True)
        return freed

    def digest(self, stage: str, key: str) -> str:
        """The content digest of a complete entry (over its files' names, sizes and sums)."""
        return json.loads((self.path(stage, key) / COMPLETE).read_text())["digest"]

    @contextmanager
    def lock(self, stage: str, key: str) -> Iterator[None]:
        """Hold the entry's lock (blocking); temporaries of writers that died are removed."""
        folder = self.path(stage, key).parent
        with locked(folder / f".{key}.lock"):
            for stale in folder.glob(f".tmp-{key}-*"):
                shutil.rmtree(stale, ignore_errors=True)
            yield

    def busy(self, stage: str, key: str) -> bool:
        """Whether another process holds the entry's lock right now."""
        import fcntl

        path = self.path(stage, key).parent / f".{key}.lock"
        if not path.exists():
            return False
        with open(path, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
        return False

    @contextmanager
    def writing(self, stage: str, key: str, spec: Any) -> Iterator[Path]:
        """Yield a temporary directory; on success it becomes the stage's entry atomically."""
        final = self.path(stage, key)
        tmp = final.parent / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            yield tmp
            files = {str(p.relative_to(tmp)): [p.stat().st_size, _sha256(p)]
                     for p in sorted(tmp.rglob("*")) if p.is_file()}
            (tmp / COMPLETE).write_text(json.dumps(
                {"spec": spec, "files": files, "digest": content_key(files)}, indent=1,
                default=str))
            if final.exists():  # a stale partial entry from an older layout: replace it
                shutil.rmtree(final)
            os.rename(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def new_run_dir(self, suite: str) -> tuple[str, Path]:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        run_id = f"{stamp}_{suite}_{uuid.uuid4().hex[:6]}"
        path = self.root / "runs" / run_id
        path.mkdir(parents=True)
        return run_id, path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename) so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w") as f:
        for row in rows:
            f.write(json.dumps(row, default=str) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]
