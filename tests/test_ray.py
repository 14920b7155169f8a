"""`--executor ray --ray-address` on a cluster of two nodes started on this machine as the Slurm
recipe starts them: stages run on both, a node killed mid-stage loses nothing (its stage is
retried on the other), and the outputs are the local executor's, byte for byte, at the same
threads per stage.

The suite runs on the ``fake`` backend and trainer (``tests/fakes``), whose training sleeps a
few seconds: what is tested is the executor (placement, retries, records, the store), and each
Ray stage is a fresh process, which with real models spends most of its time importing torch
and transformers (about 100 s of a core for this suite on 2 EPYC cores, against the 15-minute
budget of the README's test command). Real models under Ray run in ``tests/test_gpu.py`` on a
GPU machine."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ROOT, fake_suite, record_of, results_of, run_dir_of, run_tiny
from harness.devices import cores

pytestmark = pytest.mark.slow
pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")

def _keys(manifest) -> dict[str, str]:
    """Stage label -> cache key. Keys chain the digests of every upstream output, so equal
    keys for the final evaluations mean every output along the way was byte-identical."""
    return {s["label"]: s["key"] for s in manifest["stages"]}


def _threads(manifest) -> set[int]:
    return {s["threads"] for s in manifest["stages"] if not s["cached"] and s["stage"] != "data"}


@pytest.fixture(scope="module")
def reference(whole_machine, tmp_path_factory):
    """The local executor with one thread per stage, as each Ray task has (its ``num_cpus``):
    with real models training's bytes can depend on the thread count (on a Xeon with AVX-512,
    2026-12-02, one and two threads gave other weights)."""
    folder = tmp_path_factory.mktemp("local")
    # training sleeps: a window in which to kill a training node
    suite = fake_suite(folder, train="seconds: 2", weak_train="seconds: 2")
    run_dir, manifest = run_tiny(suite, folder / "home", "--jobs", str(cores()))
    assert _threads(manifest) == {1}
    return suite, run_dir, manifest


def _ray(*args: str, env: dict) -> None:
    exe = Path(sys.executable).with_name("ray")
    proc = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]


def _children(pid: int) -> list[int]:
    return [int(p.parent.name) for p in Path("/proc").glob("[0-9]*/stat")
            if _stat(p)[1] == pid]


def _stat(path: Path) -> tuple[str, int]:
    """(command line, parent pid) of a process; ("", 0) once it is gone."""
    try:
        ppid = int(path.read_text().rsplit(")", 1)[1].split()[1])
        return (path.with_name("cmdline").read_bytes().decode(errors="replace"), ppid)
    except (OSError, IndexError, ValueError):
        return ("", 0)


def _raylets(temp: Path) -> dict[str, int]:
    """This cluster's raylets by socket name: ``raylet`` (the head's), ``raylet.1``."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        cmdline, _ = _stat(stat)
        if "raylet" in cmdline.split("\0")[0] and str(temp) in cmdline:
            socket = cmdline.split("--raylet_socket_name=", 1)[1].split("\0")[0]
            out[Path(socket).name] = int(stat.parent.name)
    return out


@pytest.fixture
def cluster(whole_machine, tmp_path):
    """A head and a second node on this machine, one CPU each, started as the Slurm recipe
    starts them (``ray start --head``, ``ray start --address``); token auth off, as on a
    trusted network (docs/architecture.md)."""
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # Ray's socket paths stay short
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    port = str(6400 + os.getpid() % 500)
    try:
        _ray("start", "--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
             f"--temp-dir={temp}", "--node-ip-address=127.0.0.1", "--disable-usage-stats", env=env)
        _ray("start", f"--address=127.0.0.1:{port}", "--num-cpus=1",
             "--node-ip-address=127.0.0.1", "--disable-usage-stats", env=env)
        yield f"127.0.0.1:{port}", temp, env
    finally:  # this cluster's processes only (``ray stop`` would end every cluster here)
        ours = [int(p.parent.name) for p in Path("/proc").glob("[0-9]*/stat")
                if str(temp) in _stat(p)[0]]
        for pid in ours + [c for pid in ours for c in _children(pid)]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)


def test_a_two_node_cluster_that_loses_a_node_gives_the_local_outputs(reference, cluster,
                                                                      tmp_path):
    """Stages run on both nodes; the second node is killed (its raylet and every worker of
    it) while it computes a stage, after it has finished another; the run retries that stage
    on the head and completes with the local executor's outputs, byte for byte."""
    suite, local_dir, local = reference
    address, temp, env = cluster
    home = tmp_path / "home"
    exe = Path(sys.executable).with_name("harness")
    proc = subprocess.Popen([str(exe), "run", "--suite", str(suite), "--executor", "ray",
                             "--ray-address", address],
                            cwd=ROOT, env={**env, "HARNESS_HOME": str(home)}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    second = _raylets(temp)["raylet.1"]
    deadline, victims, busy = time.monotonic() + 600, [], []
    while not victims:
        assert proc.poll() is None and time.monotonic() < deadline, "node 2 never got 2 stages"
        manifests = list((home / "runs").glob("*/record.json"))
        done = json.loads(manifests[0].read_text())["manifest"]["stages"] if manifests else []
        nodes = {s["cluster_node"] for s in done if s["cluster_node"]}
        busy = [pid for pid in _children(second)
                if _stat(Path(f"/proc/{pid}/stat"))[0].startswith(("ray::train", "ray::eval"))]
        if len(nodes) == 2 and busy:
            victims = [second, *_children(second)]
            for pid in victims:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    run_dir = run_dir_of(subprocess.CompletedProcess([], 0, out, err))

    manifest = record_of(run_dir)["manifest"]
    assert manifest["executor"] == {"name": "ray", "address": address, "retries": 3}
    ran = [s for s in manifest["stages"] if not s["cached"] and s["pid"] != manifest["pid"]]
    assert len({s["cluster_node"] for s in ran}) == 2, "stages ran on both nodes"
    # nothing lost: no stage's record is a process the kill stopped mid-stage (another of
    # the node's processes may have finished its stage and been exiting)
    assert not {s["pid"] for s in manifest["stages"]} & set(busy)
    assert not list((home / "cache" / "train").glob(".tmp-*"))
    # the local outputs, at the same threads per stage
    assert _threads(manifest) == _threads(local) == {1}
    assert _keys(manifest) == _keys(local)
    assert results_of(run_dir) == results_of(local_dir)
    # each stage in a process of its own (a Ray worker runs one task: ``max_calls=1``)
    assert len({s["pid"] for s in ran}) == len(ran)
