"""Base classes for the five plugin kinds, and the records that flow between them.

A plugin class carries ``name``, an integer ``version`` (bump it when outputs change: it goes
into cache keys), a docstring (its first line is shown by ``harness list``) and a nested
pydantic ``Params`` model that forbids unknown fields, so a typo in a suite fails before any
compute starts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable, ClassVar, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.rows import Row


class Params(BaseModel):
    """Base for plugin parameters: unknown fields are errors, not silently ignored. A field's
    docstring (or its ``Field(description=...)``) is its description in ``harness list`` and
    the suite reference, which refuses an undocumented one."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Plugin:
    """Common shape of every pluggable class."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    Params: ClassVar[type[Params]] = Params
    hub_models: ClassVar[bool] = False
    """Whether it loads the suite's models by name as transformers does (a local folder, the
    Hugging Face cache or the hub); `harness run` then checks, before any stage, that they
    can be had. Trainers and backends do unless they say otherwise."""

    def __init__(self, params: Params | dict[str, Any] | None = None) -> None:
        if isinstance(params, Params):
            params = params.model_dump()
        self.params = self.Params.model_validate(params or {})

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""


# --------------------------------------------------------------------------- records


class Splits(BaseModel):
    """Three disjoint splits as Burns et al. (2023) use them, with what making them dropped
    and how many rows each could have had, so a short split or a leak is told, not hidden."""

    labeled: list[Row]
    unlabeled: list[Row]
    test: list[Row]
    available: dict[str, int] | None = None
    """Per split, the rows it could draw from (after the splits drawn before it); None when a
    capability splits by itself."""
    duplicates: int = 0
    """Rows dropped for repeating an earlier row's id or prompt within a pool."""
    overlap: int = 0
    """Train-pool rows dropped because the test split holds the same id or prompt."""

    def names(self) -> dict[str, list[Row]]:
        return {"labeled": self.labeled, "unlabeled": self.unlabeled, "test": self.test}


class DecodeConfig(BaseModel):
    """Greedy decoding settings; capabilities supply defaults, suites may override."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    max_new_tokens: int = 64
    """The decode budget; gold targets longer than it stop a run before any model runs."""
    stop: list[str] = Field(default_factory=lambda: ["\n"])
    """Strings that end a completion (never one that has said nothing yet)."""
    batch_size: int = 64
    """Prompts decoded at once (halved and retried when a device runs out of memory)."""
    temperature: float = Field(0.0, ge=0)
    """0 is greedy (the paper's setting); above 0 samples, seeded by ``seed``."""
    seed: int = 0
    """The sampling seed, when ``temperature`` is above 0."""


class Generation(BaseModel):
    text: str
    stop: str | None = None
    """The stop string that ended the completion (not part of ``text``), if one did."""


class TrainExample(BaseModel):
    prompt: str
    target: str


class WeakItem(BaseModel):
    """An unlabeled prompt with the weak model's label: what selectors choose from.

    It deliberately carries no gold answer: selectors must not see the unlabeled split's truth.
    """

    id: str
    capability: str
    prompt: str
    label: str
    """The weak model's completion, used as the training target."""
    weak_logprob: float | None = None
    """Mean per-token log-probability of ``label`` under the weak model (if a selector needs it)."""
    strong_answer: str | None = None
    """The strong model's own greedy answer to ``prompt`` (if a selector needs it)."""
    agree: bool | None = None
    """Whether ``label`` and ``strong_answer`` give the same answer (by the capability's reading)."""
    answer: str | None = None
    """The answer ``label`` gives, by the capability's reading (``Capability.answer_of``), when
    the capability has a label set (``Capability.labels``): what a probe is trained to predict."""


Signal = Literal["weak_logprob", "student_answer", "base_answer", "weak_model", "strong_features"]
"""What the pipeline can give a selector, each computed once and cached: the weak model's
log-probability of its labels (``WeakItem.weak_logprob``); the strong answers of the
*student* (the strong model fine-tuned on all weak labels, i.e. the naive W2S model) or of the
*base* strong model (``WeakItem.strong_answer``); the trained weak model itself
(``SelectContext.weak_model``, a local folder: the supervisor that wrote the labels); the
untuned strong model's hidden states at each pool prompt's last token
(``SelectContext.features``, at the layers the selector's ``layers()`` names)."""


# --------------------------------------------------------------------------- contexts


class SelectContext(BaseModel):
    """What a selector may use beyond the pool.

    ``backend`` is the suite's backend: ``ctx.backend.complete(model, prompts, DecodeConfig())``
    returns one ``Generation`` (``.text``) per prompt, greedy by default, and
    ``ctx.backend.logprobs(model, prompts, completions)`` the mean per-token log-probability of
    each completion after its prompt; ``model`` is a local folder (``strong_model``,
    ``weak_model``)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    seed: int
    strong_model: str
    """Local folder of the untuned strong model (reward models are built from it)."""
    weak_path: str | None = None
    """Local folder of the trained weak model, when the selector needs ``"weak_model"``."""
    strong_features: Any = None
    """The features stage's ``Features``, when the selector needs ``"strong_features"``."""
    backend: Any = None
    work_dir: Path

    def features(self) -> Features:
        """The untuned strong model's hidden states at each pool prompt's last token, by
        layer (``Features``). Only a selector whose ``needs()`` includes ``"strong_features"``
        gets them: the stage then waits for the features stage and its key follows it."""
        if self.strong_features is None:
            raise RuntimeError('ctx.features(): add "strong_features" to the selector\'s '
                               "needs() to be given the strong model's features")
        return self.strong_features

    @property
    def weak_model(self) -> str:
        """Local folder of the trained weak model (fine-tuned on the labeled split's gold: the
        supervisor whose greedy completions are the pool's labels). Only a selector whose
        ``needs()`` includes ``"weak_model"`` gets it: the stage then waits for those weights
        and its cache key follows them."""
        if self.weak_path is None:
            raise RuntimeError("ctx.weak_model: add \"weak_model\" to the selector's needs() "
                               "to be given the trained weak model")
        return self.weak_path


class Features(NamedTuple):
    """Hidden states of a model at the last token of each of a split's prompts: ``ids`` in
    order, and by layer (0 is the embeddings, ``n`` the output of block ``n``) an array of one
    row an id (``numpy.ndarray``, float32)."""

    ids: list[str]
    layers: dict[int, Any]


class TrainContext(BaseModel):
    seed: int
    work_dir: Path
    progress_label: str = "train"
    history: Path | None = None
    """Where a trainer may append its training curve, one JSON object a logged optimizer step
    (``step``, ``epoch``, ``loss``, ``learning_rate``; deterministic fields only, since the
    file is part of the stage's output): `harness show --html` draws it."""


# --------------------------------------------------------------------------- kinds


class SplitSizes(Params):
    """Split sizes shared by every capability; suites set them per capability."""

    labeled: int = Field(1000, ge=1)
    """Rows with gold labels: the weak model's training set, and the solved examples of the
    untuned models' k-shot prompts."""
    unlabeled: int = Field(2000, ge=1)
    """Rows the supervisor labels for the student; their gold trains the ceiling."""
    test: int = Field(500, ge=1)
    """Rows every model is scored on."""
    extract: list[str | dict[str, dict[str, Any]]] | None = Field(
        None, description="the extraction pipeline (harness.extract), instead of the "
                          "capability's own; e.g. [{number: {mode: strict}}] for GSM8K")

    @field_validator("extract")
    @classmethod
    def _known_steps(cls, value):
        if value is not None:
            from harness.extract import parse

            parse(value)
        return value


class Capability(Plugin):
    """Base: a dataset posed as generation, with an answer extractor and a scorer."""

    Params: ClassVar[type[Params]] = SplitSizes
    params: SplitSizes
    decode: ClassVar[DecodeConfig] = DecodeConfig()
    default_source: ClassVar[str | None] = None
    """Hugging Face hub id used when a suite names no source."""
    generated: ClassVar[bool] = False
    """True when the capability makes its own data (no source, ``--data-dir`` ignored)."""
    chance: ClassVar[float | None] = None
    """The accuracy of answering at random in the capability's answer space (0.5 for a yes/no
    label, 0.25 for four options, 0 for open answers); None when unknown. The report warns
    about a model below it."""
    extract: ClassVar[list] = []
    """The extraction pipeline ``answer_of`` runs (``harness.extract``); a suite may override it
    with the ``extract`` param."""
    labels: ClassVar[bool] = False
    """Whether every item's answer is one of a label set shared by all items (a class: yes/no,
    entailment, a city's code), so a read-out of a model's features can predict it (the
    ``Head`` students, the probe selectors). Open answers and per-item options are not."""

    def extraction(self) -> list:
        """The pipeline in force: the suite's ``extract`` param, else the capability's own."""
        return getattr(self.params, "extract", None) or type(self).extract

    def pools(self, source: str | None, seed: int) -> dict[str, list[Row]]:
        """Return the raw pools: ``{"train": rows}`` plus ``"test"`` when the data has its own.

        ``source`` arrives resolved (the suite's, else ``default_source``; see ``load``); it is
        None only for generated capabilities.
        """
        raise NotImplementedError

    def answer_of(self, row: Row, completion: str) -> str | None:
        """The answer a completion gives, in a canonical form, or None when it gives none.

        Two completions agree when they give the same answer; that is how selectors compare the
        weak label with the strong model's own answer, so this must never read ``row.answer``,
        ``row.target`` or ``row.meta`` gold fields, only the prompt side (e.g. ``choices``).
        By default it runs the extraction pipeline; a capability may override it instead.
        """
        pipeline = self.extraction()
        if not pipeline:
            raise NotImplementedError(f"{self.name}: declare `extract` or define answer_of")
        from harness.extract import run

        return run(pipeline, completion, row)

    def gold_of(self, row: Row) -> str:
        """The gold answer in the canonical form ``answer_of`` returns."""
        return row.answer

    def wrong_targets(self, row: Row, targets: dict[str, str]) -> dict[str, str]:
        """The wrong answers a supervisor's error on ``row`` may give, each with a target that
        gives it (``Supervisor`` plugins draw their errors from these). ``targets`` maps each
        gold answer of the capability's rows (``gold_of``) to one row's target: by default the
        others are the wrong ones, which is the label set of a classification and another
        item's gold for free text. A capability whose items carry their own candidates (the
        options of a multiple-choice item) gives those instead."""
        gold = self.gold_of(row)
        return {a: t for a, t in targets.items() if a != gold}

    def score(self, row: Row, completion: str) -> float:
        """1.0 when the completion gives the gold answer, else 0.0."""
        got = self.answer_of(row, completion)
        return float(got is not None and got == self.gold_of(row))

    def from_hub(self, raw: dict[str, Any], split: str, index: int) -> Row:
        """Map one row in the hub dataset's schema; local files are read into that schema."""
        raise NotImplementedError

    def normalise(self, raw: dict[str, list[dict[str, Any]]]) -> dict[str, list[Row]]:
        """Raw hub-schema pools -> normalised rows, through ``from_hub``."""
        return {s: [self.from_hub(r, s, i) for i, r in enumerate(rows)] for s, rows in raw.items()}

    def check_source(self, source: str | None) -> None:
        """Fail before any compute when the source cannot work (e.g. a missing directory)."""
        from harness.sources import is_local, local_dir

        if source and is_local(source):
            local_dir(source, self.name)

    def metrics(self, rows: list[Row], scores: list[float]) -> dict[str, float]:
        """Extra metrics over a whole split (e.g. per-question exact match); none by default."""
        return {}

    def group_of(self, row: Row) -> str:
        """Rows of one group never straddle two splits (e.g. MC-TACO's candidates)."""
        return row.id

    def load(self, seed: int, source: str | None = None) -> Splits:
        """Burns-style splits: labeled and unlabeled from train, test from test where it exists."""
        pools = self.pools(source if source is not None else self.default_source, seed)
        p = self.params
        train = _dedupe(pools["train"])
        duplicates = len(pools["train"]) - len(train)
        if "test" in pools:
            tests = _dedupe(pools["test"])
            duplicates += len(pools["test"]) - len(tests)
            test = _take_groups(tests, p.test, seed, self.group_of)
            taken = {r.prompt for r in test} | {r.id for r in test}
            rest = [r for r in train if r.prompt not in taken and r.id not in taken]
            available = {"test": len(tests)}
        else:
            test, rest = _take_groups(train, p.test, seed, self.group_of, remainder=True)
            available = {"test": len(train)}
        overlap = len(train) - len(rest) if "test" in pools else 0
        available["labeled"] = len(rest)
        labeled, rest = _take_groups(rest, p.labeled, seed + 1, self.group_of, remainder=True)
        available["unlabeled"] = len(rest)
        unlabeled = _take_groups(rest, p.unlabeled, seed + 2, self.group_of)
        for split in (labeled, unlabeled, test):
            for r in split:
                r.capability = self.name
        return Splits(labeled=labeled, unlabeled=unlabeled, test=test, available=available,
                      duplicates=duplicates, overlap=overlap)


class Selector(Plugin):
    """Base: choose which weakly labelled items the strong model trains on."""

    gpus: ClassVar[int] = 0
    """Devices its selection needs (a selector that trains or runs a model sets 1)."""
    relabels: ClassVar[bool] = False
    """Whether it may return items whose ``label`` is another pool item's label (a probe's
    relabelling). Any other change to an item, and any label the pool does not hold, is
    refused: a selector can move the weak labels around, never write one."""

    def layers(self) -> list[int]:
        """The layers of the strong model whose features it needs (``"strong_features"``)."""
        return []

    def needs(self) -> set[Signal]:
        """Signals the pipeline must add to the pool's items before ``select`` (none here)."""
        return set()

    def select(self, pool: list[WeakItem], ctx: SelectContext) -> list[WeakItem]:
        raise NotImplementedError


class Supervisor(Plugin):
    """Base: the weak side of a run, which writes the labels the strong model learns from.

    A supervisor with ``model = True`` is the suite's weak model: the pipeline fine-tunes it
    on the labeled split's gold and its greedy completions are the labels (``label`` is never
    called), so it has weights and log-probabilities for the selectors that need them. Any
    other supervisor writes labels itself, for the unlabeled split and for the test split,
    where they are graded like a model's completions to give the run's "weak" score.
    """

    model: ClassVar[bool] = False

    def label(self, capability: Capability, rows: list[Row], splits: dict[str, list[Row]],
              seed: int) -> list[str]:
        """One label per row of ``rows``, each a completion as a model would write it (a
        target). ``splits`` holds every split of the capability by name (``labeled``,
        ``unlabeled``, ``test``), gold included: a supervisor that learns trains on
        ``labeled`` alone, as the weak model does; a rule that decides a label from the input
        is computed over all of them, so it is the same rule on the unlabeled and test
        splits. Deterministic for a seed."""
        raise NotImplementedError


class Step(NamedTuple):
    """One training run of a method, chained from the previous run's model.

    ``data`` is what it trains on: ``selected`` (the selector's choice), ``pool`` (every weak
    label) or ``self`` (the previous model's own answers to the unlabeled prompts, decoded at
    ``temperature``). ``trainer`` names the trainer of this run (None: the method's own), and
    its ``params`` layer over the suite's ``train`` params as a method's do, so a step with no
    params trains exactly as the naive method does and shares its cached model.
    ``restart`` trains from the strong base model instead of the previous run's model.
    """

    data: Literal["selected", "pool", "self"]
    trainer: str | None = None
    params: dict[str, Any] | None = None
    restart: bool = False
    temperature: float = 0.0


class Trainer(Plugin):
    """Base: fine-tune ``base_model`` on examples, save to ``out_dir``, return the model path."""

    hub_models = True

    def train(
        self, base_model: str, data: list[TrainExample], out_dir: Path, ctx: TrainContext
    ) -> Path:
        """One training run. Trainers made of several runs define ``steps`` instead."""
        raise NotImplementedError

    def steps(self) -> list[Step]:
        """The training runs a method chains; the pipeline caches each as its own stage, so a run
        shared with another method (two-stage's first stage is the naive model) happens once."""
        return [Step("selected")]

    def check_processes(self, processes: int) -> None:
        """Refuse, before any compute, a number of training processes this trainer cannot
        keep its effective batch exact over (raise ``HarnessError``)."""


class Head(Trainer):
    """Base: a student that reads its answer off the frozen strong model's features, instead of
    fine-tuning it (Burns et al. 2023's linear probes; EleutherAI/w2s). The pipeline extracts
    the features once per model, layer set and split, as a cached stage every head shares,
    and writes a head's predictions as completions (each the target of the answer it picks),
    graded like any student's. Only capabilities with a label set (``Capability.labels``)."""

    def layers(self) -> list[int]:
        """The layers whose features it chooses among (0 is the embeddings)."""
        raise NotImplementedError

    def fit_predict(self, train: Features, labels: list[str], test: Features,
                    seed: int) -> tuple[list[str], dict[str, Any]]:
        """The answer it predicts for each ``test`` id, trained on ``labels`` (one answer each
        of ``train``'s ids), and a record of what it chose (layer, regularisation) for the
        run's record. Every choice is made on ``train`` and ``labels`` alone: never on gold
        beyond what ``labels`` are, never on ``test``."""
        raise NotImplementedError


class Backend(Plugin):
    """Base: greedy decoding of prompts with a model given by hub id or local path."""

    hub_models = True

    def available(self) -> bool:
        return True

    def generate(self, model: str, prompts: list[str], decode: DecodeConfig) -> list[Generation]:
        """One decoding pass: each completion cut at the first stop string, which it names in
        ``Generation.stop``."""
        raise NotImplementedError

    def complete(self, model: str, prompts: list[str], decode: DecodeConfig,
                 rounds: int = 4, again: Callable[[Generation], bool] | None = None
                 ) -> list[Generation]:
        """Completions in which a stop never ends one that has said nothing yet.

        A model that starts its answer with a line break (many chat-tuned models do), or
        writes an answer marker and then a line break ("The answer is:" and the answer on the
        next line), would otherwise stop at the default stop string "\n" with no answer given
        (``unsaid``). Such a completion keeps what it produced (the text and the stop string)
        and generation continues after it, up to ``rounds`` times; the budget counts again
        from there. Every backend gets this from here, so they agree. ``again`` replaces the
        rule (``bench/stop_rules.py`` measures the one before it).
        """
        again = again or unsaid
        out = self.generate(model, prompts, decode)
        for _ in range(rounds):
            todo = [i for i, g in enumerate(out) if again(g)]
            if not todo:
                break
            heads = {i: out[i].text + out[i].stop for i in todo}  # type: ignore[operator]
            more = self.generate(model, [prompts[i] + heads[i] for i in todo], decode)
            for i, g in zip(todo, more):
                out[i] = Generation(text=heads[i] + g.text, stop=g.stop)
        return out

    def logprobs(self, model: str, prompts: list[str], completions: list[str],
                 batch_size: int = 32) -> list[float]:
        """Mean per-token log-probability of each completion after its prompt (teacher forced)."""
        raise NotImplementedError

    def hidden_states(self, model: str, prompts: list[str], layers: list[int],
                      batch_size: int = 32) -> dict[int, Any]:
        """The model's hidden state at each prompt's last token, by layer (0: the embeddings),
        one float32 ``numpy`` row a prompt: what a ``Head`` student and the probe selectors
        read."""
        raise NotImplementedError


MARKERS = (":",)
"""What an answer marker ends with ("The answer is:", "Answer:"): a completion that stops
right after one has said nothing yet."""


def unsaid(g: Generation) -> bool:
    """Whether a stop string ended ``g`` before it said anything: nothing but whitespace, or
    nothing after an answer marker (``Backend.complete`` continues such a completion)."""
    return g.stop is not None and (not g.text.strip() or g.text.rstrip().endswith(MARKERS))


SINGULAR = {
    "capabilities": "capability",
    "selectors": "selector",
    "trainers": "trainer",
    "backends": "backend",
    "supervisors": "supervisor",
}

KINDS: dict[str, type[Plugin]] = {
    "capabilities": Capability,
    "selectors": Selector,
    "trainers": Trainer,
    "backends": Backend,
    "supervisors": Supervisor,
}


# --------------------------------------------------------------------------- splitting


def _dedupe(rows: list[Row]) -> list[Row]:
    """Drop repeated ids and identical prompts so no prompt can sit in two splits."""
    seen_ids: set[str] = set()
    seen_prompts: set[str] = set()
    out = []
    for r in rows:
        if r.id in seen_ids or r.prompt in seen_prompts:
            continue
        seen_ids.add(r.id)
        seen_prompts.add(r.prompt)
        out.append(r)
    return out


def _take_groups(rows, n, seed, group_of, remainder=False):
    """Take whole groups in a seeded order until ``n`` rows; optionally return the rest."""
    groups: dict[str, list[Row]] = {}
    for r in rows:
        groups.setdefault(group_of(r), []).append(r)
    # Hash order is a seeded permutation that does not depend on the input order.
    keys = sorted(groups, key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())
    taken: list[Row] = []
    rest: list[Row] = []
    for k in keys:
        (taken if len(taken) < n else rest).extend(groups[k])
    return (taken, rest) if remainder else taken
