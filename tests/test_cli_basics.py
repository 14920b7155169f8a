"""Cheap CLI behaviour: instant help, listing, and one-line errors with exit status 2."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from conftest import harness_cli


def test_help_imports_neither_torch_nor_vllm():
    code = textwrap.dedent("""
        import sys
        from harness.cli import main
        try:
            main(["--help"])
        except SystemExit:
            pass
        heavy = sorted(m for m in ("torch", "vllm", "transformers") if m in sys.modules)
        print(",".join(heavy) or "none")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "none"


def test_list_shows_builtins_with_their_distribution():
    proc = harness_cli("list", check=True)
    for name in ("synth_scan", "synth_arith", "all", "sft", "hf", "vllm"):
        assert f" {name} " in proc.stdout
    assert "w2s-harness" in proc.stdout


BAD_SUITES = {
    "malformed yaml": ("name: x\ncapabilities: [\n", "not valid YAML"),
    "unknown field": (
        "name: x\nweak: tiny-weak\nstrong: tiny-strong\ncolour: red\n"
        "capabilities: [{name: synth_scan}]\n", "colour"),
    "unknown capability": (
        "name: x\nweak: tiny-weak\nstrong: tiny-strong\ncapabilities: [{name: nope}]\n",
        "unknown capability 'nope'"),
    "bad capability param": (
        "name: x\nweak: tiny-weak\nstrong: tiny-strong\n"
        "capabilities: [{name: synth_scan, params: {labelled: 3}}]\n", "labelled"),
    "mistyped trainer param": (
        "name: x\nweak: tiny-weak\nstrong: tiny-strong\ncapabilities: [{name: synth_scan}]\n"
        "train: {name: sft, params: {lr: fast}}\n", "lr"),
    "unknown selector": (
        "name: x\nweak: tiny-weak\nstrong: tiny-strong\ncapabilities: [{name: synth_scan}]\n"
        "methods: [{name: m, selector: {name: psychic}}]\n", "unknown selector 'psychic'"),
    "missing model path": (
        "name: x\nweak: ./no/such/model\nstrong: tiny-strong\n"
        "capabilities: [{name: synth_scan}]\n", "does not exist"),
}


@pytest.mark.parametrize("case", sorted(BAD_SUITES))
def test_bad_suite_is_one_line_exit_2(case, tmp_path):
    text, expected = BAD_SUITES[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    proc = harness_cli("run", "--suite", str(path), "--dry-run")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert expected in lines[0]


def test_unknown_suite_name_lists_known_ones():
    proc = harness_cli("run", "--suite", "no-such-suite", "--dry-run")
    assert proc.returncode == 2
    assert "quickstart" in proc.stderr and proc.stderr.count("\n") == 1


def test_dry_run_prints_plan_without_compute(tmp_path):
    proc = harness_cli("run", "--suite", "quickstart", "--dry-run",
                       env={"HARNESS_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert "train weak" in proc.stdout and "10 of 10 stages to run" in proc.stdout
    assert not (tmp_path / "cache").exists()
