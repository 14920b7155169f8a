"""Pydantic models for what the user writes (suites) and what runs leave (results, manifests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.errors import SuiteError, one_line
from harness.graph import Resources
from harness.outputs import SplitAccount

RESULT_SCHEMA = 1
FORMAT = "strong_format"
"""The format-only control's baseline key (``Suite.format_control``): a strong baseline, so
W2S has to beat it too."""


class Strict(BaseModel):
    """What a user writes: unknown fields are errors; each field's docstring is its
    description in the suite reference (docs), which refuses an undocumented one."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class PluginRef(Strict):
    """A plugin by name with its params."""

    name: str
    """The plugin's registered name (`harness list` shows them)."""
    params: dict[str, Any] = Field(default_factory=dict)
    """The plugin's params (`harness list KIND NAME` shows them); unknown ones are errors."""


class CapabilitySpec(PluginRef):
    source: str | None = None
    """Hub id or local directory; None means the capability's default (hub, or generated)."""


class MethodSpec(Strict):
    """A leaderboard entry: a selector plus a trainer applied to the weak labels."""

    name: str
    """The method's name in tables and on the board."""
    selector: PluginRef = PluginRef(name="all")
    """Which weak labels the student trains on; ``all`` is naive W2S."""
    trainer: PluginRef | None = None
    """None means the suite's ``train`` trainer, exactly as the ceiling uses it."""
    supervisor: PluginRef | None = None
    """Who writes this method's labels; None means the suite's ``supervisor``. Methods with
    different supervisors share the ceiling and the untuned baselines, so one suite holds a
    control pair (random against systematic errors at the same accuracy)."""


Tracker = Literal["tensorboard", "mlflow", "wandb"]
"""The experiment trackers a run can be sent to (``harness.track``); each one's client is the
module of its name."""


class Suite(Strict):
    """A suite file: models, capabilities, methods, training and decoding, seeds."""

    name: str
    """The suite's name: run ids, the board's section."""
    description: str = ""
    """For people: the board shows it."""
    weak: str | None = None
    """The weak model, which the ``model`` supervisor fine-tunes on the labeled split; a suite
    whose supervisor writes its own labels names none."""
    strong: str
    """The strong model: a hub id, a local folder, or a model built here (`tiny-strong`,
    `testbed-strong`, `smollm2-135m`)."""
    supervisor: PluginRef = PluginRef(name="model")
    """Who labels the unlabeled split (``harness.Supervisor``): the weak model fine-tuned on
    gold (``model``, the default), or e.g. ``simulated`` labels of a known accuracy."""
    backend: str = "auto"
    """The decoding backend: ``auto`` (vLLM on CUDA when installed, else transformers),
    ``hf``, ``vllm``, or a plugin's."""
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2])
    """Every result is a mean over these, with a 95% interval; three by default."""
    log_to: list[Tracker] = Field(
        default_factory=list, exclude_if=lambda v: not v)
    """Experiment trackers each run of this suite is sent to when it finishes (``harness.track``;
    ``--log-to`` overrides); none by default. No part of any stage, so of no cache key."""
    mixtures: list[Literal["joint", "single"]] = Field(default_factory=lambda: ["joint"])
    """``joint``: one model over every capability (the paper's multi-capability setting);
    ``single``: one model per capability."""
    capabilities: list[CapabilitySpec]
    """The capabilities, each with its split sizes and params, and its data source."""
    methods: list[MethodSpec] = Field(default_factory=lambda: [MethodSpec(name="naive")])
    """The weak-to-strong methods, each a selector and a trainer (and optionally its own
    supervisor)."""
    train: PluginRef = PluginRef(name="sft")
    """Trainer for the ceiling and the strong model of methods that name none."""
    weak_train: PluginRef | None = None
    """Trainer for the weak model; None means ``train``. Its params layer over ``train``'s
    when both name the same trainer, as a method's do."""
    decode: dict[str, Any] = Field(default_factory=dict)
    """Overrides of every capability's decode settings, e.g. ``batch_size``."""
    limit: int | None = Field(None, ge=1)
    """Cap every split at this many rows (smoke runs)."""
    baseline_shots: list[int] = Field(default_factory=lambda: [0, 3], min_length=1)
    """The untuned strong and weak models are evaluated on the test split at each of these
    shot counts (solved examples from the labeled split, drawn per seed, before each prompt):
    the baselines a weak-to-strong result has to beat."""
    format_control: bool = True
    """Also train the strong model on the weak labels shuffled across items within each
    capability (the same answers, formats and label distribution, no item information) and
    evaluate it: the control for a student that learned only the answer format and used what
    it already knew. It counts among the strong baselines W2S has to beat
    (``strong_format``)."""
    base_shots: int = Field(3, ge=0)
    """Solved examples from the labeled split (drawn per seed) put before each prompt when the
    untuned strong base model answers (the ``base_answer`` signal of ``consistency`` and
    ``reward_model``), so it sees the answer format; 0 asks zero-shot."""
    target_check: Literal["error", "warn"] = "error"
    """Gold targets that decoding would cut (a stop string inside, longer than
    ``max_new_tokens``) stop the run before any model runs (``error``) or are reported
    (``warn``: smoke runs of tiny models on real data); see ``harness.preflight``."""
    trust_remote_code: list[str] = Field(default_factory=list)
    """Models (the suite's ``weak`` or ``strong``, as written) allowed to run their repository's
    own code, as some architectures need; every model trained from them inherits it. Empty by
    default: no model's code runs."""
    transfer: bool = False
    """With the ``single`` mixture: evaluate each single-capability model on every capability."""
    resources: dict[str, Resources] = Field(default_factory=dict)
    """Per stage kind (data, train, decode, supervise, grade, score, select), layered over the
    defaults (model stages: one GPU where there is one), e.g. ``{train: {ranks: 2}}`` to launch
    training as two processes."""
    min_gap: float | Literal["auto"] = "auto"
    """PGR is reported only where the ceiling beats the weak model by at least this much
    accuracy; ``auto``: two binomial standard errors of the difference of the two accuracies on
    the test items (``harness.stats.noise_gap``), so a gap within test-set noise gives no PGR.
    Over several seeds, the gap's 95% interval must also exclude zero: on a smaller gap a PGR
    is a ratio of noise."""

    @model_validator(mode="after")
    def _unique_names(self) -> Suite:
        for what, names in (
            ("capability", [c.name for c in self.capabilities]),
            ("method", [m.name for m in self.methods]),
        ):
            dupes = {n for n in names if names.count(n) > 1}
            if dupes:
                raise ValueError(f"{what} listed twice: {', '.join(sorted(dupes))}")
        if not self.capabilities:
            raise ValueError("a suite needs at least one capability")
        if any(k < 0 for k in self.baseline_shots) or \
                len(set(self.baseline_shots)) < len(self.baseline_shots):
            raise ValueError("baseline_shots must be distinct shot counts >= 0, e.g. [0, 3]")
        strangers = set(self.trust_remote_code) - {self.weak, self.strong}
        if strangers:
            raise ValueError(f"trust_remote_code names {', '.join(sorted(strangers))}, which is "
                             "neither the weak nor the strong model")
        return self

    def smoke(self) -> list[str]:
        """The settings that make a run a smoke test rather than a benchmark result: the
        leaderboard refuses its entry, or marks it, for these."""
        out = []
        if self.limit is not None:
            out.append(f"limit {self.limit}: every split capped at {self.limit} rows")
        if self.target_check == "warn":
            out.append("target_check warn: gold targets that decoding cuts were let through")
        return out

    @property
    def supervised_by(self) -> str:
        """The weak side, for a line: the weak model's name, or each supervisor the methods
        use, with its params."""
        def one(ref: PluginRef) -> str:
            if ref.name == "model" and self.weak:
                return self.weak
            params = ", ".join(f"{k} {v}" for k, v in ref.params.items())
            return f"{ref.name} supervisor" + (f" ({params})" if params else "")

        named = [one(m.supervisor or self.supervisor) for m in self.methods]
        return " / ".join(dict.fromkeys(named))

    def over_train(self, ref: PluginRef | None) -> PluginRef:
        """``ref`` layered over the suite's ``train``: same trainer, params merged."""
        if ref is None:
            return self.train
        if ref.name == self.train.name:
            return PluginRef(name=ref.name, params={**self.train.params, **ref.params})
        return ref

    def method_trainer(self, method: MethodSpec) -> PluginRef:
        return self.over_train(method.trainer)

    @classmethod
    def from_file(cls, path: Path) -> Suite:
        try:
            data = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise SuiteError(f"cannot read suite file {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark else ""
            raise SuiteError(
                f"suite file {path}{where} is not valid YAML ({getattr(exc, 'problem', exc)}); "
                "fix the syntax"
            ) from None
        if not isinstance(data, dict):
            raise SuiteError(f"suite file {path} must hold a mapping of suite fields")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SuiteError(f"suite file {path}: {one_line(exc)}; fix that field") from None


# --------------------------------------------------------------------------- results


class StageRecord(BaseModel):
    """One stage of a run: served from the cache or computed, by which worker, when."""

    stage: str
    key: str
    label: str
    cached: bool
    seconds: float
    node: str = ""
    """The stage's id in the graph (its key depends on its inputs' outputs as well)."""
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    """Wall-clock seconds since the epoch, so overlapping stages can be seen."""
    pid: int | None = None
    host: str = ""
    cluster_node: str = ""
    """The Ray node that computed it, on a Ray cluster (its node id)."""
    threads: int = 0
    device: str = ""
    log: str = ""
    launch: dict | None = None
    """For a stage run as several ranks: the launcher and the accelerate config it used."""


class CapabilityResult(BaseModel):
    """One row of a run's results.jsonl: a method on a capability for one seed and mixture."""

    schema_version: int = RESULT_SCHEMA
    run_id: str
    suite: str
    seed: int
    mixture: str
    method: str
    capability: str
    weak: float
    ceiling: float
    w2s: float
    pgr: float | None
    pgr_note: str | None = None
    n_test: int
    items: dict[str, list[float]] = Field(default_factory=dict)
    """Per role (``weak``, ``w2s``, ``ceiling``), the score of each test item, in one item
    order: what the pooled PGR's paired interval and every paired difference come from."""
    baselines: dict[str, float] = Field(default_factory=dict)
    """Accuracy of the untuned models on the test split (``strong_0shot``, ``strong_3shot``,
    ``weak_0shot``, ...; their per-item scores are in ``items`` under the same keys)."""
    chance: float | None = None
    """The capability's chance accuracy (``Capability.chance``), None when unknown."""
    empty: dict[str, int] = Field(default_factory=dict)
    """Per role and baseline (the keys of ``items``), how many test completions are empty
    (whitespace only): answers never given, which score 0."""
    metrics: dict[str, float] = Field(default_factory=dict)
    """Extra metrics per role, e.g. ``w2s_em`` for MC-TACO's per-question exact match."""
    analysis: dict[str, float] = Field(default_factory=dict)
    """Data and agreement measures (see ``harness.analysis``): ``weak_label_acc`` (weak labels
    on the unlabeled split), ``selected_n`` and ``selected_label_acc`` (the selection),
    ``train_n``, ``train_label_acc``, ``train_distinct_2`` and ``train_compression`` (every
    example the method's strong model trained on, over all its steps, a self-bootstrap's own
    labels included), ``pool_agreement`` (weak label vs the
    strong answer, where a selector computed it), ``supervisor_agreement`` (W2S model vs weak
    model on the test split), ``rm_held_out_acc`` (the reward model's pairwise accuracy on
    held-out items of this capability), ``rm_auc`` (how well its rewards rank the weak labels'
    correctness, computed here after the selection)."""


class TransferResult(BaseModel):
    """A single-capability W2S model evaluated on another capability's test split."""

    schema_version: int = RESULT_SCHEMA
    run_id: str
    seed: int
    method: str
    trained_on: str
    evaluated_on: str
    accuracy: float
    items: list[float] = []
    """Per-item test scores on ``evaluated_on``, in item id order (as ``CapabilityResult``'s),
    so the transfer test pairs them with the untuned strong model's on the same items."""




class Manifest(BaseModel):
    """Exactly what ran: the suite as resolved, versions, device, seeds, stages, status."""

    schema_version: int = RESULT_SCHEMA
    run_id: str
    suite: Suite
    argv: list[str]
    status: Literal["running", "finished", "failed", "interrupted"] = "running"
    error: str | None = None
    started: str
    finished: str | None = None
    git: dict[str, Any] = Field(default_factory=dict)
    python: str
    packages: dict[str, str] = Field(default_factory=dict)
    plugins: list[dict[str, Any]] = Field(default_factory=list)
    extraction: dict[str, list] = Field(default_factory=dict)
    """Each capability's answer-extraction pipeline (``harness.extract``), as run."""
    splits: dict[str, SplitAccount] = Field(default_factory=dict)
    """Each capability's splits on the first seed: rows asked for and made, and the rows
    making them dropped (``harness.preflight.check_splits``)."""
    device: str
    """The devices the run's workers reported (the parent imports no torch to find out)."""
    backend: str
    executor: dict[str, Any] = Field(default_factory=dict)
    """Which executor ran the stages, with its parallelism and thread share."""
    host: str = ""
    pid: int | None = None
    """The process running it: a ``running`` run whose process is gone was interrupted."""
    stages: list[StageRecord] = Field(default_factory=list)
