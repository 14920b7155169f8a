"""`--log-to tensorboard,mlflow,wandb`: a finished run's training curves, accuracies and
summary in each tracker, read back with the tracker's own reader (W&B's offline file through
its own protobuf records), the same from a fully cached rerun, and no part of any cache key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import fake_suite, harness_cli, run_fake
from harness.errors import HarnessError
from harness import record, track
from harness.record import load
from harness.schemas import Suite
from harness.store import Store

for _client in ("tensorboard", "mlflow", "wandb"):
    pytest.importorskip(_client, reason="the trackers are the track extra "
                                        "(pip install -e '.[dev]' has them)")


def tensorboard(home: Path, run_id: str) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(home / "tensorboard" / run_id), size_guidance={"scalars": 0},
                              purge_orphaned_data=False)  # every point written, kept
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in events.Tags()["scalars"]}


def mlflow(home: Path, run_id: str, names: list[str],
           experiment: str = "fake") -> dict[str, list[tuple[int, float]]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(experiment).experiment_id
    (run,) = client.search_runs([experiment], filter_string=f"attributes.run_name = '{run_id}'")
    assert run.data.params["run_id"] == run_id and run.info.status == "FINISHED"
    return {n: [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, n)]
            for n in names}


def wandb_records(path: Path) -> list:
    """The records of an offline W&B run file: a LevelDB-style log (32 KiB blocks, each chunk
    a 7-byte header of checksum, length and type) of W&B's own protobuf ``Record``s."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, chunk, records = path.read_bytes(), 7, b"", []
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # a block's tail too short for a header is padding
            pos += 32768 - pos % 32768
            continue
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        chunk += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a whole record, or a record's last chunk
            record = pb.Record()
            record.ParseFromString(chunk)
            records.append(record)
            chunk = b""
    return records


def wandb(home: Path, run_id: str) -> tuple[dict[str, list[tuple[int, float]]], dict]:
    """The offline run named ``run_id``: each logged series against its axis, and its summary."""
    for path in (home / "wandb").glob("offline-run-*/run-*.wandb"):
        records = wandb_records(path)
        if any(r.run.display_name == run_id for r in records if r.HasField("run")):
            break
    else:
        raise AssertionError(f"no offline W&B run named {run_id}")
    curves: dict[str, list[tuple[int, float]]] = {}
    totals = {}
    for r in records:
        items = {i.key or "/".join(i.nested_key): json.loads(i.value_json)
                 for i in (r.history.item if r.HasField("history") else
                           r.summary.update if r.HasField("summary") else [])}
        if r.HasField("summary"):
            totals.update(items)
            continue
        for name, value in items.items():
            axis = name.rsplit("/", 1)[0] + ("/step" if name.startswith("train/") else "/seed")
            if axis in items and name != axis:
                curves.setdefault(name, []).append((items[axis], value))
    return curves, totals


def close(read: dict[str, list[tuple[int, float]]], sent: dict[str, list[tuple[int, float]]]):
    """Whether ``read`` holds exactly ``sent``'s points, step for step, each once (TensorBoard
    keeps 32-bit floats)."""
    return ({n: [step for step, _ in read[n]] for n in sent}
            == {n: [step for step, _ in points] for n, points in sent.items()}
            and [v for n in sent for _, v in read[n]]
            == pytest.approx([v for points in sent.values() for _, v in points], rel=1e-6))


def suite(tmp_path: Path) -> Path:
    return fake_suite(tmp_path, seeds="[0, 1]", train="curve: true")


@pytest.mark.slow  # a browser, or whole runs: the full tier (CI)
def test_a_run_and_its_cached_rerun_send_the_same_curves_to_all_three(tmp_path, monkeypatch):
    for var in ("MLFLOW_TRACKING_URI", "WANDB_MODE", "WANDB_PROJECT"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    trackers = ("--log-to", "tensorboard,mlflow,wandb")
    first, _ = run_fake(suite(tmp_path), home, *trackers)
    # Tracking is in no key: the same suite without trackers, then with them, runs nothing.
    for extra in ((), trackers):
        again, manifest = run_fake(suite(tmp_path), home, *extra)
        assert manifest["stages"] and all(s["cached"] for s in manifest["stages"])
    runs = [load(first), load(again)]
    sent = [track.series(r, Store(home)) for r in runs]
    assert sent[0] == sent[1]
    curves = {n: p for n, p in sent[0].items() if n.startswith("train/")}
    # What is sent is each training stage's stored curve, step for step.
    for label, rows in record.curves(runs[0], Store(home)).items():
        assert curves[track.metric("train", label, "loss")] == [(h["step"], h["loss"])
                                                              for h in rows]
    trained = sum(s.kind == "train" for s in runs[0].graph.stages.values())
    assert len(curves) == 2 * trained > 0  # loss and learning rate of every training stage
    totals = track.summary(runs[0])
    assert {"summary/joint/fake_lookup/naive/pgr", "summary/joint/fake_lookup/naive/pgr_low",
            "summary/joint/fake_lookup/naive/baseline strong_0shot"} <= set(totals)
    for run in runs:
        run_id = run.manifest.run_id
        read = tensorboard(home, run_id)
        assert close(read, sent[0]) and close(read, {n: [(0, v)] for n, v in totals.items()})
        assert mlflow(home, run_id, list(sent[0])) == sent[0]
        logged, summary = wandb(home, run_id)
        assert logged == sent[0]
        assert {n: summary[n] for n in totals} == pytest.approx(totals)
    # Sent again, TensorBoard's folder and MLflow's run are replaced, not doubled.
    harness_cli("show", run_id, "--log-to", "tensorboard,mlflow", check=True,
                env={"HARNESS_HOME": str(home)})
    assert close(tensorboard(home, run_id), read)
    assert mlflow(home, run_id, list(sent[0])) == sent[0]


def test_a_tracker_is_named_and_installed_before_any_compute(tmp_path, monkeypatch):
    home = tmp_path / "home"
    proc = harness_cli("run", "--suite", str(suite(tmp_path)), "--log-to", "tensorbord",
                       env={"HARNESS_HOME": str(home)})
    assert proc.returncode == 2 and proc.stderr.startswith(
        "error: --log-to: no tracker named 'tensorbord'; the trackers are tensorboard, ")
    assert not (home / "runs").exists()
    monkeypatch.setattr(track.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(HarnessError, match=r"its client \(wandb\) is not installed; pip install "
                                           r"'w2s-harness\[track\]'"):
        track.check(["wandb"])
    proc = harness_cli("show", "latest", "--log-to", "mlflow", env={"HARNESS_HOME": str(home)})
    assert proc.returncode == 2 and proc.stderr.startswith("error: 'latest' matches no run")


def test_a_suite_names_its_trackers_and_an_unset_list_is_not_in_its_dump(tmp_path):
    plain = Suite.from_file(suite(tmp_path))
    assert plain.log_to == [] and "log_to" not in plain.model_dump()
    assert set(track.WRITERS) == set(track.TRACKERS)  # a writer for each name a suite takes
    named = plain.model_validate({**plain.model_dump(), "log_to": ["wandb"]})
    assert named.model_dump()["log_to"] == ["wandb"]
    with pytest.raises(ValueError, match="log_to"):
        plain.model_validate({**plain.model_dump(), "log_to": ["neptune"]})
    assert track.metric("train", "train weak [a+b seed 0] (x/y)", "loss") == \
        "train/train weak a b seed 0 x y/loss"


def test_a_tracker_that_fails_loses_no_run_and_says_how_to_send_it_again(tmp_path, monkeypatch,
                                                                          capsys):
    from harness import cli

    def broken(*_):
        raise ConnectionError("tracker unreachable")

    monkeypatch.setitem(track.WRITERS, "tensorboard", broken)
    monkeypatch.setenv("HARNESS_HOME", str(tmp_path / "home"))
    code = cli.main(["run", "--suite", str(suite(tmp_path)), "--in-process",
                     "--log-to", "tensorboard"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    (run,) = (tmp_path / "home" / "runs").iterdir()
    assert code == 2 and err.startswith(f"error: the run finished and is recorded in {run}")
    assert err.endswith(f"(ConnectionError: tracker unreachable); send it again with "
                        f"`harness show {run.name} --log-to tensorboard`")
    assert load(run).manifest.status == "finished" and load(run).results
    proc = harness_cli("show", run.name, "--log-to", "mlflow", "--html",
                       env={"HARNESS_HOME": str(tmp_path / "home")})
    assert proc.returncode == 2 and proc.stderr.startswith(
        "error: --log-to and --html are separate commands")


def test_the_page_and_the_trackers_refuse_a_run_that_did_not_finish(tmp_path):
    home = tmp_path / "home"
    run, _ = run_fake(suite(tmp_path), home)
    done = load(run)
    done.manifest.status = "failed"
    record.save(run, done)
    for args, needs in ((("--log-to", "tensorboard"), "trackers get"),
                        (("--html",), "a page draws")):
        proc = harness_cli("show", run.name, *args, env={"HARNESS_HOME": str(home)})
        assert proc.returncode == 2 and proc.stderr == (
            f"error: run {run.name} is failed: {needs} a finished run's results; run the same "
            "command again to finish it\n"), proc.stderr
    assert not (home / "tensorboard").exists() and not (run / "page.html").exists()
