"""Hub-schema rows (fixtures written here) and the same rows in the local file format give the
same normalised rows, through each capability's real loading code (only the hub call is faked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.plugins import registry

Q = "What do plants need to grow?"


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _jl(*rows) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


GSM = {"question": "Tom has 3 pens and buys 4. How many?", "answer": "3+4=<<3+4=7>>7\n#### 7"}
SCAN = {"commands": "jump twice", "actions": "I_JUMP I_JUMP"}
CREAK = {"ex_id": "train_9", "sentence": "Paris is in France.", "explanation": "It is the capital.",
         "label": "true", "entity": "Paris"}
TACO = {"sentence": "He slept.", "question": "How long did he sleep?", "answer": "8 hours",
        "label": 1, "category": 0}
ECQA = {"q_no": "abc123", "q_concept": "plants", "q_text": Q, "q_op1": "music", "q_op2": "light",
        "q_op3": "salt", "q_op4": "noise", "q_op5": "dark", "q_ans": "light",
        "taskA_pos": "", "taskA_neg": "", "taskB": "Plants use light to make food."}
ESNLI = {"premise": "A man sleeps .", "hypothesis": "A man is awake .", "label": 2,
         "explanation_1": "one cannot sleep and be awake", "explanation_2": "", "explanation_3": ""}
OBQA = {"id": "7-1", "question_stem": Q, "answerKey": "B",
        "choices": {"text": ["music", "light", "salt", "noise"], "label": ["A", "B", "C", "D"]}}
SCIQ = {"question": Q, "distractor1": "music", "distractor2": "salt", "distractor3": "noise",
        "correct_answer": "light", "support": "Plants use light."}

CASES = {
    # name: (hub rows per (config, split), local files)
    "gsm8k": ({("main", "train"): [GSM], ("main", "test"): [GSM | {"question": "Other?"}]},
              {"train.jsonl": _jl(GSM), "test.jsonl": _jl(GSM | {"question": "Other?"})}),
    "scan": ({("simple", "train"): [SCAN], ("simple", "test"): [SCAN | {"commands": "jump"}]},
             {"simple_split/tasks_train_simple.txt": "IN: jump twice OUT: I_JUMP I_JUMP\n",
              "simple_split/tasks_test_simple.txt": "IN: jump OUT: I_JUMP I_JUMP\n"}),
    "creak": ({(None, "train"): [CREAK], (None, "validation"): [CREAK | {"ex_id": "dev_1"}]},
              {"train.json": _jl(CREAK), "dev.json": _jl(CREAK | {"ex_id": "dev_1"})}),
    "mctaco": ({("plain_text", "validation"): [TACO], ("plain_text", "test"): []},
               {"dev_3783.tsv": "He slept.\tHow long did he sleep?\t8 hours\tyes\tEvent Duration\n",
                "test_9442.tsv": ""}),
    "ecqa": ({(None, "train"): [], (None, "validation"): [ECQA], (None, "test"): [ECQA]},
             {"flan_cot/ecqa_train.tsv": "", "cqa_data_val.csv": None, "cqa_data_test.csv": None}),
    "esnli": ({(None, "train"): [ESNLI], (None, "test"): []},
              {"s1.dev": "A man sleeps .\n", "s2.dev": "A man is awake .\n",
               "labels.dev": "contradiction\n", "preproc1_expl_1.dev": ESNLI["explanation_1"],
               "preproc1_expl_2.dev": "", "preproc1_expl_3.dev": "",
               "s1.test": "", "s2.test": "", "labels.test": "", "preproc1_expl_1.test": "",
               "preproc1_expl_2.test": "", "preproc1_expl_3.test": ""}),
    "openbookqa": ({("main", "train"): [OBQA], ("main", "validation"): [],
                    ("main", "test"): [OBQA]},
                   {f"OpenBookQA-V1-Sep2018/Data/Main/{s}.jsonl": _jl({
                       "id": "7-1", "answerKey": "B", "question": {"stem": Q, "choices": [
                           {"text": t, "label": lab} for t, lab in
                           zip(OBQA["choices"]["text"], "ABCD")]}}) if s != "dev" else ""
                    for s in ("train", "dev", "test")}),
    "sciq": ({(None, "train"): [SCIQ], (None, "validation"): [], (None, "test"): [SCIQ]},
             {"train.json": json.dumps([SCIQ]), "valid.json": "[]",
              "test.json": json.dumps([SCIQ])}),
}


def _ecqa_csv() -> str:
    import csv
    import io

    buf = io.StringIO()
    cols = ["", *ECQA]
    writer = csv.DictWriter(buf, fieldnames=cols)
    writer.writeheader()
    writer.writerow({"": "0", **ECQA, "taskB": "Plants use light\nto make food."})
    return buf.getvalue()


def _comparable(pools):
    return {s: [(r.prompt, r.target.split()[:3], r.answer, r.choices) for r in rows]
            for s, rows in pools.items() if rows}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hub_rows_and_local_files_normalise_alike(name, tmp_path, monkeypatch):
    hub, files = CASES[name]
    files = {k: (_ecqa_csv() if v is None else v) for k, v in files.items()}
    _write(tmp_path / name, files)
    import harness.sources

    asked = []

    def fake_hub_rows(dataset, config, split):
        asked.append((dataset, config, split))
        return [dict(r) for r in hub[(config, split)]]

    monkeypatch.setattr(harness.sources, "hub_rows", fake_hub_rows)
    cap = registry().make("capabilities", name, {"labeled": 1, "unlabeled": 1, "test": 1})
    from_hub = cap.pools(cap.default_source, 0)
    assert asked and all(d == cap.default_source for d, _, _ in asked)
    local = cap.pools(str(tmp_path / name), 0)
    assert _comparable(from_hub) and _comparable(from_hub) == _comparable(local)
    for rows in from_hub.values():
        for r in rows:
            assert cap.score(r, r.target) == 1.0


def test_a_row_missing_a_field_is_a_one_line_error(tmp_path):
    from harness.errors import DataError

    _write(tmp_path / "gsm8k", {"train.jsonl": _jl({"question": "x"}), "test.jsonl": _jl(GSM)})
    cap = registry().make("capabilities", "gsm8k")
    with pytest.raises(DataError, match="row train:0 has no field 'answer'"):
        cap.pools(str(tmp_path / "gsm8k"), 0)


# The hub's parquet export of the script datasets, as hub-schema fixtures written here.
EXPORTS = {
    "mctaco": {("plain_text", "validation"): [TACO], ("plain_text", "test"): [TACO | {
        "sentence": "She ran.", "label": 0}]},
    "scan": {("simple", "train"): [SCAN], ("simple", "test"): [SCAN | {"commands": "jump"}]},
    "esnli": {("default", "train"): [ESNLI], ("default", "test"): [ESNLI | {"label": 0}]},
}


def _features(name: str):
    from datasets import ClassLabel, Features, Value

    if name == "mctaco":
        return Features({"sentence": Value("string"), "question": Value("string"),
                         "answer": Value("string"), "label": ClassLabel(names=["no", "yes"]),
                         "category": ClassLabel(names=["Event Duration", "Event Ordering",
                                                       "Frequency", "Typical Time",
                                                       "Stationarity"])})
    if name == "esnli":
        return Features({"premise": Value("string"), "hypothesis": Value("string"),
                         "label": ClassLabel(names=["entailment", "neutral", "contradiction"]),
                         **{f"explanation_{i}": Value("string") for i in (1, 2, 3)}})
    return Features({"commands": Value("string"), "actions": Value("string")})


def _fake_hub(monkeypatch, export_root: Path | None):
    """The hub as `datasets` 4+ sees a script dataset: loading it by name fails as it does
    there; its parquet export is served from ``export_root`` (None: it has none)."""
    import datasets

    real = datasets.load_dataset
    asked = []

    def load_dataset(path, *args, data_files=None, **kwargs):
        if path != "parquet":
            raise RuntimeError(f"Dataset scripts are no longer supported, but found {path}.py")
        asked.append(data_files)
        prefix = "hf://datasets/"
        repo, _, rest = data_files[len(prefix):].partition("@refs%2Fconvert%2Fparquet/")
        if export_root is None or not rest:
            raise FileNotFoundError(f"Unable to find '{data_files}'")
        return real("parquet", data_files=str(export_root / repo / rest), **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return asked


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_script_datasets_load_from_their_parquet_export(name, tmp_path, monkeypatch):
    from datasets import Dataset

    cap = registry().make("capabilities", name, {"labeled": 1, "unlabeled": 1, "test": 1})
    for (config, split), rows in EXPORTS[name].items():
        folder = tmp_path / "hub" / cap.default_source / config / split
        folder.mkdir(parents=True)
        Dataset.from_list(rows, features=_features(name)).to_parquet(str(folder / "0000.parquet"))
    asked = _fake_hub(monkeypatch, tmp_path / "hub")
    pools = cap.pools(cap.default_source, 0)
    assert asked and all(f.startswith(f"hf://datasets/{cap.default_source}@") for f in asked)
    rows = [r for split in pools.values() for r in split]
    assert len(rows) == 2 and all(cap.score(r, r.target) == 1.0 for r in rows)


def test_a_script_dataset_without_an_export_points_at_data_dir(monkeypatch):
    from harness.errors import DataError

    _fake_hub(monkeypatch, None)
    cap = registry().make("capabilities", "mctaco")
    with pytest.raises(DataError) as err:
        cap.pools(cap.default_source, 0)
    message = str(err.value)
    assert "\n" not in message and "no longer runs" in message and "--data-dir" in message
