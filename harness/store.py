"""Content-addressed stage cache and run directories under ``$HARNESS_HOME``.

A stage's output lives in ``cache/<stage>/<key>/`` and only appears there complete: it is
written into a temporary sibling and renamed into place, so a killed run leaves no half entry.
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


def home() -> Path:
    return Path(os.environ.get("HARNESS_HOME", ".harness")).resolve()


def content_key(spec: Any) -> str:
    """Stable short hash of a JSON-able spec."""
    blob = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class Store:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or home()

    def path(self, stage: str, key: str) -> Path:
        return self.root / "cache" / stage / key

    def done(self, stage: str, key: str) -> bool:
        return (self.path(stage, key) / COMPLETE).is_file()

    @contextmanager
    def writing(self, stage: str, key: str, spec: Any) -> Iterator[Path]:
        """Yield a temporary directory; on success it becomes the stage's entry atomically."""
        final = self.path(stage, key)
        tmp = final.parent / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            yield tmp
            (tmp / COMPLETE).write_text(json.dumps({"spec": spec}, indent=1, default=str))
            if final.exists():  # a stale partial entry from an older layout: replace it
                shutil.rmtree(final)
            os.rename(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def discard(self, stage: str, key: str) -> None:
        shutil.rmtree(self.path(stage, key), ignore_errors=True)

    def new_run_dir(self, suite: str) -> tuple[str, Path]:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        run_id = f"{stamp}_{suite}_{uuid.uuid4().hex[:6]}"
        path = self.root / "runs" / run_id
        path.mkdir(parents=True)
        return run_id, path


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
