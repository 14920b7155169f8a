"""Every row of the bad-input table in docs/guide.md: one line naming the fix, exit status 2, and no
finished stage lost. (Out-of-memory during decoding retries instead: tests/test_backends.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ROOT, harness_cli, plugin_site
from test_faults import FAULTS, KIND_FAULTS

HEAD = "name: x\nweak: tiny-weak\nstrong: tiny-strong\n"
SCAN = "  - {name: synth_scan, params: {labeled: 20, unlabeled: 20, test: 10}}\n"

# the table's row -> (suite text or None, extra CLI args, expected text in the error line)
BEFORE_COMPUTE = {
    "malformed YAML": ("name: x\ncapabilities: [\n", [], "not valid YAML"),
    "unknown suite field": (HEAD + "colour: red\ncapabilities: [{name: synth_scan}]\n", [],
                            "colour"),
    "unknown plugin": (HEAD + "capabilities: [{name: synth_scan}]\n"
                       "methods: [{name: m, selector: {name: psychic}}]\n", [],
                       "unknown selector 'psychic'"),
    "unknown param": (HEAD + "capabilities: [{name: synth_scan, params: {labelled: 3}}]\n", [],
                      "labelled"),
    "mistyped param": (HEAD + "capabilities: [{name: synth_scan}]\n"
                       "train: {name: sft, params: {lr: fast}}\n", [], "lr"),
    "model path that does not exist": (
        "name: x\nweak: ./no/such/model\nstrong: tiny-strong\n"
        "capabilities: [{name: synth_scan}]\n", [], "does not exist"),
    "missing data directory": (HEAD + "capabilities: [{name: gsm8k}]\n",
                               ["--data-dir", "/no/such/dir"], "--data-dir /no/such/dir"),
}


def _error_line(proc) -> str:
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [x for x in proc.stderr.strip().splitlines() if not x.startswith("[")
             and "|" not in x and not x.startswith(("run ", "warning"))]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    return lines[0]


@pytest.mark.parametrize("case", sorted(BEFORE_COMPUTE))
def test_bad_input_before_any_compute(case, tmp_path):
    text, args, expected = BEFORE_COMPUTE[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    proc = harness_cli("run", "--suite", str(path), "--dry-run", *args)
    assert expected in _error_line(proc)


def _suite_with_broken_gsm8k(tmp_path: Path, files: dict[str, str]) -> Path:
    data = tmp_path / "data" / "gsm8k"
    data.mkdir(parents=True)
    for name, text in files.items():
        (data / name).write_text(text)
    suite = tmp_path / "s.yaml"
    suite.write_text(HEAD + "capabilities:\n" + SCAN + f"  - {{name: gsm8k, source: {data}}}\n")
    return suite


ROW = '{"question": "What is 1 + 1?", "answer": "1 + 1 = 2\\n#### 2"}\n'
DATA_ERRORS = {
    "missing data file": ({"train.jsonl": ROW}, "test.jsonl"),
    "dataset row missing a field": ({"train.jsonl": '{"question": "x"}\n', "test.jsonl": ROW},
                                    "has no field 'answer'"),
}


@pytest.mark.parametrize("case", sorted(DATA_ERRORS))
def test_bad_data_stops_with_one_line_and_keeps_finished_stages(case, tmp_path):
    files, expected = DATA_ERRORS[case]
    suite = _suite_with_broken_gsm8k(tmp_path, files)
    env = {"HARNESS_HOME": str(tmp_path / "home")}
    assert expected in _error_line(harness_cli("run", "--suite", str(suite), env=env))
    plan = harness_cli("run", "--suite", str(suite), "--dry-run", env=env, check=True).stdout
    assert re.search(r"data synth_scan seed 0 .* cached", plan), "a finished stage was lost"


def _site_with(tmp_path: Path, body: str) -> Path:
    return plugin_site(tmp_path, "bad_plugin", body)


PLUGINS = {
    "plugin that raises on import": ("raise RuntimeError('boom')\n", "failed to import"),
    "plugin that raises inside a hook": (
        "import pluggy\nhookimpl = pluggy.HookimplMarker('harness')\n"
        "@hookimpl\ndef register_selectors(register):\n    raise ValueError('boom')\n",
        "raised in register_selectors"),
}


@pytest.mark.parametrize("case", sorted(PLUGINS))
def test_broken_plugins(case, tmp_path):
    body, expected = PLUGINS[case]
    env = {"PYTHONPATH": str(_site_with(tmp_path, body)), "HARNESS_HOME": str(tmp_path / "h")}
    proc = harness_cli("run", "--suite", "quickstart", "--dry-run", env=env)
    line = _error_line(proc)
    assert expected in line and "boom" in line and "HARNESS_BLOCK_PLUGINS=bad" in line
    # The commands that diagnose it still work: the rest listed, the broken one named.
    listed = harness_cli("list", env=env)
    assert listed.returncode == 0 and "synth_scan" in listed.stdout
    assert expected in listed.stderr and "warning: plugin 'bad'" in listed.stderr
    plugins = harness_cli("plugins", env=env)
    assert plugins.returncode == 0 and "BROKEN" in plugins.stdout and "hf" in plugins.stdout


def test_a_plugin_that_registers_nothing_is_a_warning_naming_it(tmp_path):
    env = {"PYTHONPATH": str(_site_with(tmp_path, "def register_selectors(register):\n"
                                                  "    pass  # no @hookimpl\n"))}
    listed = harness_cli("list", env=env)
    assert listed.returncode == 0
    assert "plugin 'bad' (bad-plugin) registered nothing" in listed.stderr
    assert "@hookimpl" in listed.stderr


def test_the_guides_table_lists_exactly_these_rows():
    guide = (ROOT / "docs" / "guide.md").read_text()
    table = guide.split("<!-- bad-input table -->", 2)[1]
    rows = {line.split("|")[1].strip() for line in table.splitlines()
            if line.startswith("| ") and not line.startswith("| input")}
    elsewhere = {
        "out of memory while decoding":
            "test_backends.py::test_out_of_memory_halves_the_batch_and_retries",
        "a stage's worker dies (killed, out of host memory)":
            "test_workers.py::"
            "test_a_killed_worker_is_one_error_line_with_its_log_and_leaves_no_entry",
        "an effective batch the processes cannot split exactly":
            "test_workers.py::test_ranks_that_cannot_split_the_batch_are_refused_at_plan_time",
        "gold targets a stop string or the decode budget would cut (over 1% of a capability's)":
            "test_preflight.py::test_a_run_stops_before_any_model_runs",
        "a selector that edits its pool's items in place, or returns edited copies of them":
            "test_isolation.py::test_the_kit_fails_a_selector_returning_edited_copies",
        "`harness check NAME` where two plugins register NAME (or a plugin of two kinds has it)":
            "test_isolation.py::test_check_refuses_a_name_two_plugins_register",
        "`harness check` of a capability whose data it cannot read (no `--source`, an "
        "unreachable hub)": "test_isolation.py::test_check_stops_a_capability_at_its_missing_data",
        "a plugin that prints while it loads, or takes over 1 s to import":
            "test_isolation.py::test_printing_or_slow_imports_are_one_warning_each",
        "what a plugin prints while its stage runs":
            "test_isolation.py::test_what_a_plugin_prints_in_a_stage_stays_in_its_log",
        "a plugin module with one invalid class beside valid ones":
            "test_isolation.py::test_an_invalid_class_is_refused_alone_with_the_block_hint",
        "a selector that reads `ctx.weak_model` without `weak_model` in its `needs()`":
            "test_weak_model_context.py::"
            "test_a_selector_that_did_not_ask_for_the_weak_model_is_told_how",
        "Ctrl-C (or `kill`) during `harness models build`":
            "test_interrupt.py::test_stopping_a_model_build_exits_within_5_s_and_leaves_no_folder",
        "a split with no rows":
            "test_refusals.py::test_an_empty_split_is_refused_before_any_model_runs",
        "a split size larger than the capability's pool (`fact_city` asked for 600 unlabeled "
        "rows)": "test_refusals.py::test_a_split_larger_than_its_pool_says_how_many_it_can_have",
        "rows repeated within a pool, or shared between the train and test pools":
            "test_refusals.py::"
            "test_rows_shared_between_pools_are_counted_in_the_record_and_the_report",
        "a prompt, with its solved examples, longer than a model's context":
            "test_refusals.py::"
            "test_a_prompt_longer_than_the_context_names_the_item_and_both_lengths",
        "a capability that declares a chance outside [0, 1]":
            "test_refusals.py::test_a_chance_outside_0_1_is_refused_at_registration",
        "a finding's control that cannot match its method's training (examples and optimizer "
        "steps within 5%)": "test_findings.py::"
        "test_a_suite_whose_controls_cannot_match_is_refused_at_planning",
        "`harness leaderboard add` of a run with no test items behind a figure":
            "test_refusals.py::"
            "test_an_entry_that_cannot_render_is_refused_and_never_stops_the_board",
        "`harness leaderboard build` with an entry it cannot read or render":
            "test_refusals.py::"
            "test_an_entry_that_cannot_render_is_refused_and_never_stops_the_board",
        "a stage that does not fit the machine's GPUs":
            "test_sizing.py::test_run_refuses_a_stage_that_cannot_fit_before_any_compute",
        "a hub model that is not in the Hugging Face cache, with the hub off or unreachable":
            "test_model_preflight.py::"
            "test_the_papers_suite_without_its_models_is_one_line_within_seconds",
        "a suite that needs GPUs (over 0.01 GPU-hours planned) on a machine without them":
            "test_model_preflight.py::"
            "test_a_suite_that_needs_gpus_is_refused_on_a_cpu_with_the_plans_figures",
        "a usage error (an unknown kind, a missing argument)":
            "test_cli_basics.py::"
            "test_list_takes_a_kind_singular_or_plural_and_names_the_kinds_otherwise",
        "a plugin module without @hookimpl functions":
            "test_bad_input.py::test_a_plugin_that_registers_nothing_is_a_warning_naming_it",
        "an unknown extraction step":
            "test_scoring.py::test_a_suite_can_swap_the_extraction_pipeline",
        "a plugin whose `@hookimpl` names no hook (`register_selector`)":
            "test_plugin_contracts.py::test_a_misspelt_hook_is_one_line_and_list_still_works",
        "a third-party plugin that reuses a built-in's name (a selector `all`)":
            "test_plugin_contracts.py::"
            "test_a_name_clash_marks_the_third_party_plugin_never_a_builtin",
        "a plugin's Params default of the wrong type (`fraction: float = \"half\"`)":
            "test_plugin_contracts.py::test_a_wrong_default_stops_a_run_before_any_compute",
        "a capability whose Params do not subclass `SplitSizes`":
            "test_plugin_contracts.py::test_params_are_validated_when_a_plugin_registers",
        "`harness check` with a broken plugin installed":
            "test_plugin_contracts.py::test_check_checks_the_healthy_plugins_beside_a_broken_one",
        "`harness check --source` without `NAME=DIR`":
            "test_plugin_contracts.py::test_check_source_needs_name_and_dir",
        "`harness leaderboard ...` without `--root`, outside the repository":
            "test_leaderboard.py::test_leaderboard_bad_input_is_one_error_line",
        "`harness leaderboard add` of a run that failed or was interrupted":
            "test_leaderboard.py::test_leaderboard_bad_input_is_one_error_line",
        "`harness leaderboard add` of a smoke run (`--limit`, `target_check: warn`)":
            "test_leaderboard.py::test_a_smoke_run_is_refused_or_marked_on_every_line",
        "Ctrl-C (or `kill`) during a run":
            "test_interrupt.py::test_stopping_a_run_during_vllm_decoding_stops_everything_quickly",
        **{row: "test_faults.py::test_a_faulty_selector_is_one_line_naming_it_and_loses_nothing"
           for row in FAULTS},
        **{row: "test_faults.py::"
                "test_a_fault_in_any_plugin_method_is_one_line_and_keeps_finished_stages"
           for row in KIND_FAULTS},
    }
    for where in elsewhere.values():
        file, _, test = where.partition("::")
        assert f"def {test}" in (ROOT / "tests" / file).read_text(), where
    assert rows == {*BEFORE_COMPUTE, *DATA_ERRORS, *PLUGINS, *elsewhere}
