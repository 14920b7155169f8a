"""Where capability data comes from: a local directory of the original files, or the hub.

Capabilities map hub rows to their normalised form with one function, and turn local files into
hub-schema rows first, so both sources give identical rows by construction.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterator

from harness.errors import DataError, one_line


def is_local(source: str) -> bool:
    """A source is local when it names an existing path or looks like one."""
    return source.startswith(("/", ".", "~")) or Path(source).exists()


def local_dir(source: str, capability: str) -> Path:
    """``source`` as a directory, or a one-line ``DataError`` naming the capability and the
    fix (point ``--data-dir`` or the capability's ``source`` at the dataset's files)."""
    root = Path(source).expanduser()
    if not root.is_dir():
        raise DataError(
            f"{capability}: data directory {root} does not exist; pass --data-dir pointing at the "
            f"folder that holds {capability}/, or set the capability's source in the suite"
        )
    return root


def need(path: Path, capability: str) -> Path:
    """``path`` when the file is there, else a one-line ``DataError`` naming it and the
    capability: call it on each file a capability reads, before opening it."""
    if not path.is_file():
        raise DataError(
            f"{capability}: missing data file {path}; copy the dataset's original files there "
            "(see the capability's docstring for the layout)"
        )
    return path


PARQUET_EXPORT = "refs%2Fconvert%2Fparquet"
"""The hub's parquet export of a dataset (``{config}/{split}/*.parquet``), the form a dataset
that still needs a loading script can be read in by ``datasets`` 4 and later."""


def parquet_export(dataset: str, config: str | None, split: str) -> str:
    """The ``hf://`` files of one split of ``dataset``'s parquet export."""
    return f"hf://datasets/{dataset}@{PARQUET_EXPORT}/{config or 'default'}/{split}/*.parquet"


def hub_rows(dataset: str, config: str | None, split: str) -> list[dict[str, Any]]:
    """Rows of a hub dataset split as plain dicts (needs the `datasets` package and network).

    A dataset that still ships a loading script (``datasets`` no longer runs them) is read from
    its parquet export instead, same columns; when that is missing too, the error says to use
    the original files with ``--data-dir``."""
    try:
        import datasets
    except ImportError:
        raise DataError(
            f"loading {dataset} from the hub needs `pip install datasets`; or use local files "
            "with --data-dir"
        ) from None
    try:
        ds = datasets.load_dataset(dataset, config, split=split)
    except Exception as exc:
        if "scripts are no longer supported" not in str(exc):
            raise DataError(
                f"cannot load {dataset} ({config or 'default'}, {split}) from the hub: "
                f"{type(exc).__name__}: {one_line(exc)}; check the network, or use local files "
                "with --data-dir") from None
        files = parquet_export(dataset, config, split)
        try:
            ds = datasets.load_dataset("parquet", data_files=files, split="train")
        except Exception as exc:
            raise DataError(
                f"{dataset} needs a loading script, which `datasets` no longer runs, and its "
                f"parquet export {files} cannot be loaded ({type(exc).__name__}: "
                f"{one_line(exc)}); use the original files with --data-dir") from None
    return [dict(r) for r in ds]


TRAIN_TEST = {"train": ("train",), "test": ("test",)}
"""Hub splits to pools when the dataset has a labelled test split."""
VALIDATION_IN_TRAIN = {"train": ("train", "validation"), "test": ("test",)}
"""The same, with the validation split pooled into train (Burns et al. re-split the pool)."""


def hub_pools(dataset: str, config: str | None,
              layout: dict[str, tuple[str, ...]]) -> dict[str, list[dict[str, Any]]]:
    """Pools built from hub splits, e.g. ``{"train": ("train", "validation"), "test": ("test",)}``."""
    return {pool: [r for split in splits for r in hub_rows(dataset, config, split)]
            for pool, splits in layout.items()}


def jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a JSON-lines file (blank lines skipped); a bad line is a one-line error
    naming the file and line number."""
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path} line {n} is not valid JSON ({exc.msg})") from None


def json_array(path: Path) -> list[dict[str, Any]]:
    """The rows of a file holding one JSON array; bad JSON is a one-line error naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None


def tsv(path: Path) -> list[list[str]]:
    """The non-empty rows of a tab-separated file, as lists of cells (no quoting)."""
    with path.open(encoding="utf-8", newline="") as f:
        return [row for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if row]


def csv_dicts(path: Path) -> list[dict[str, str]]:
    """A CSV with a header; quoted cells may span lines."""
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def lines(path: Path) -> list[str]:
    """The lines of a text file, without their line ends."""
    return path.read_text(encoding="utf-8").splitlines()


def field(raw: dict[str, Any], key: str, capability: str, where: str) -> Any:
    """A required field of a raw row, or a one-line error naming the row and field."""
    try:
        return raw[key]
    except KeyError:
        raise DataError(
            f"{capability}: row {where} has no field {key!r}; the file is not in the expected "
            "format (see the capability's docstring)"
        ) from None
