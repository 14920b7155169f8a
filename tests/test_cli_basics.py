"""Cheap CLI behaviour: instant help, listing, and one-line errors with exit status 2."""

from __future__ import annotations

import subprocess
import sys
import textwrap


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


def test_version_names_the_installed_distribution():
    from importlib.metadata import version

    proc = harness_cli("--version", check=True)
    assert proc.stdout.strip() == f"harness {version('w2s-harness')}"


def test_list_takes_a_kind_singular_or_plural_and_names_the_kinds_otherwise():
    plural, singular = harness_cli("list", "selectors"), harness_cli("list", "selector")
    assert plural.returncode == singular.returncode == 0 and plural.stdout == singular.stdout
    wrong = harness_cli("list", "selecter")
    assert wrong.returncode == 2 and "selectors" in wrong.stderr and "supervisors" in wrong.stderr
    # A usage error is one line, like every other error, and says where the fix is.
    assert wrong.stderr.count("\n") == 1 and wrong.stderr.startswith("error: ")
    assert "`harness list --help`" in wrong.stderr


def test_unknown_suite_name_lists_known_ones():
    proc = harness_cli("run", "--suite", "no-such-suite", "--dry-run")
    assert proc.returncode == 2
    assert "quickstart" in proc.stderr and proc.stderr.count("\n") == 1


def test_dry_run_prints_plan_without_compute(tmp_path):
    proc = harness_cli("run", "--suite", "quickstart", "--dry-run",
                       env={"HARNESS_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    # 19 stages of weak, ceiling and the two methods, 3 of the format-only control, and 8 of
    # baselines: the untuned strong and weak models at 0 and 3 shots, each a decode and a grade.
    assert "train weak" in proc.stdout and "30 of 30 stages to run" in proc.stdout
    assert "eval strong base 3-shot" in proc.stdout
    assert not (tmp_path / "cache").exists()


def test_list_prints_a_plugins_params_with_types_defaults_and_descriptions():
    one = harness_cli("list", "selectors", "reward_model", check=True).stdout
    row = next(line for line in one.splitlines() if line.split()[2:3] == ["held_out"])
    assert "float" in row and "0.1" in row and "share of items kept out" in row
    every = harness_cli("list", "capabilities", "--params", check=True).stdout
    assert {"gsm8k", "sciq", "synth_scan"} <= {line.split()[1] for line in every.splitlines()
                                               if line.startswith("capability")}
    assert "conflict" in every and "extract" in every
