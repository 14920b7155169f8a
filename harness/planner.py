"""Suite + registry -> stage graph. Pure: it reads no cache, runs no model, starts no process.

Per seed and training mixture: the supervisor (by default the weak model trained on
``labeled`` ground truth), evaluated; its labels on ``unlabeled``; ceiling (strong model on ``unlabeled`` ground truth), evaluated; then for
each method: select from the weak labels (after the signals its selector needs), train the
strong model in the method's steps, evaluate. Stages that ask for the same work get the same
id, so every method shares one weak model, one labelling and one ceiling.

Every plugin is instantiated here first, so a bad name or param fails before any compute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from harness import code, controls
from harness.bases import Capability, DecodeConfig, Head, Plugin, Selector, Signal, Step, \
    Supervisor, Trainer
from harness.errors import HarnessError, PluginError
from harness.faults import ABOVE, blame
from harness.footprint import Footprint, Sizable, footprint_of
from harness.graph import EvalRef, Graph, Resources, StageSpec, TransferRef
from harness.registry import Registry
from harness.resolver import check as check_model
from harness.resolver import model_identity
from harness.runners import KINDS, DecodeParams, HeadParams, SelectParams, SuperviseParams
from harness.schemas import FORMAT, PluginRef, Suite
from harness.tinymodels import seeded

SPLIT_FILES = ("labeled", "unlabeled", "test")
P = TypeVar("P", bound=Plugin)


def ref(plugin: Plugin) -> dict[str, Any]:
    """What of a plugin goes into a spec: name, version and validated params."""
    return {"name": plugin.name, "version": plugin.version, "params": plugin.params.model_dump()}


def shape(trainer: Trainer) -> Footprint | None:
    """A trainer's run shape (epochs, batch, steps) for its training budget, or None where
    it declares none (its budget is then unknown, not guessed)."""
    return trainer.footprint() if isinstance(trainer, Sizable) else None


@dataclass
class Model:
    """A model a stage loads: a named base model, or the output of a train stage."""

    name: str | None = None
    stage: str | None = None
    trusted: bool = False

    def params(self, role: str) -> dict[str, Any]:
        if self.stage:
            return {"trust_remote_code": self.trusted}
        return {role: self.name, f"{role}_identity": model_identity(self.name or ""),
                "trust_remote_code": self.trusted}

    def inputs(self, role: str) -> dict[str, str]:
        return {role: self.stage} if self.stage else {}


@dataclass
class Group:
    """The capabilities one model is trained on, for one seed and mixture."""

    seed: int
    mixture: str
    caps: list[str]
    data: dict[str, str]
    weak: Model
    strong: Model
    """The seed's untuned models (``harness.tinymodels.seeded``)."""

    @property
    def tag(self) -> str:
        return f"{'+'.join(self.caps)} seed {self.seed}"

    def data_inputs(self) -> dict[str, str]:
        return {f"data:{c}": self.data[c] for c in self.caps}


class Planner:
    def __init__(self, suite: Suite, registry: Registry, backend: str) -> None:
        self.suite = suite
        self.registry = registry
        self.plugins: dict[tuple[str, str], Plugin] = {}
        """(kind, name) -> every plugin this plan runs, as built: what the manifest lists."""
        self.where = f"planning suite {suite.name}"
        unknown = sorted(set(suite.resources) - set(KINDS))
        if unknown:
            raise HarnessError(f"suite {suite.name}: resources for unknown stage kind "
                               f"{unknown[0]!r}; the kinds are {', '.join(KINDS)}")
        self.capabilities: dict[str, Capability] = {}
        self.sources: dict[str, str | None] = {}
        for spec in suite.capabilities:
            params = dict(spec.params)
            cap = self._made("capabilities", registry.make("capabilities", spec.name, params))
            if suite.limit:
                sizes = {k: min(getattr(cap.params, k), suite.limit) for k in SPLIT_FILES}
                cap = self._made("capabilities",
                                 registry.make("capabilities", spec.name, {**params, **sizes}))
            self.capabilities[spec.name] = cap
            source = spec.source or cap.default_source
            self.sources[spec.name] = source
            with blame(cap, self.where, "check_source()", ABOVE):
                cap.check_source(self.sources[spec.name])
        self.backend = self._made("backends", registry.make("backends", backend))
        self.trainer = self._made("trainers", registry.make("trainers", suite.train.name,
                                                            suite.train.params))
        weak_ref = suite.over_train(suite.weak_train)
        self.weak_trainer = self._made("trainers", registry.make("trainers", weak_ref.name,
                                                                 weak_ref.params))
        self.all = self._made("selectors", registry.make("selectors", "all"))
        self.methods: dict[str, tuple[Selector, list[tuple[Step, Trainer]]]] = {}
        """Each method's selector, and its training steps with the trainer of each."""
        self.supervised: dict[str, Supervisor] = {}
        """Each method's supervisor (the suite's, unless the method names its own)."""
        for m in suite.methods:
            tref = suite.method_trainer(m)
            trainer = self._made("trainers", registry.make("trainers", tref.name, tref.params))
            self.supervised[m.name] = self._supervisor(m.supervisor or suite.supervisor)
            self.methods[m.name] = (
                self._made("selectors", registry.make("selectors", m.selector.name,
                                                      m.selector.params)),
                self._steps(m.name, trainer),
            )
        for m in suite.methods:
            self._check_features(m.name, *self.methods[m.name])
        if isinstance(self.trainer, Head) or isinstance(self.weak_trainer, Head):
            raise HarnessError(f"suite {suite.name}: trainer {suite.train.name} reads the "
                               "strong model's features and trains no weights, so it cannot be "
                               "the suite's `train` (the ceiling and weak model of every "
                               "method); name it in a method's `trainer:`")
        if suite.weak and any(s.model for s in self.supervised.values()):
            check_model(suite.weak)
        check_model(suite.strong)
        self.graph = Graph()

    def _supervisor(self, spec: PluginRef) -> Supervisor:
        made = self._made("supervisors", self.registry.make("supervisors", spec.name,
                                                            spec.params))
        if made.model and not self.suite.weak:
            raise HarnessError(f"suite {self.suite.name}: supervisor {made.name} trains the "
                               "suite's weak model, and the suite names none; add `weak:` (a "
                               "model), or name a supervisor that writes its own labels")
        return made

    def _check_features(self, method: str, selector: Selector,
                        steps: list[tuple[Step, Trainer]]) -> None:
        """Refuse, at planning, a head student or probe selector on a capability without a
        label set (its features can only be read into classes), or a head chained with
        other training runs (it trains no weights to chain from)."""
        heads = [t for _, t in steps if isinstance(t, Head)]
        if heads and len(steps) > 1:
            raise PluginError(f"method {method}: trainer {heads[0].name} reads the strong "
                              "model's features and trains no weights, so it cannot be a step "
                              "of a chain; use it alone")
        with blame(selector, self.where, "needs()", ABOVE):
            reads = "strong_features" in selector.needs()
        users = [f"trainer {heads[0].name}"] if heads else []
        users += [f"selector {selector.name}"] if reads else []
        open_ = [c for c, cap in self.capabilities.items() if not cap.labels]
        if users and open_:
            raise HarnessError(f"method {method}: {users[0]} reads the strong model's features "
                               f"into classes, and capability {open_[0]} has no label set "
                               "shared by its items (open answers or per-item options); use it "
                               "on classification capabilities (fact_city, fact_sum, creak, "
                               "esnli, mctaco) or drop it from this suite")

    def _made(self, kind: str, plugin: P) -> P:
        """``plugin``, recorded as one this plan runs."""
        self.plugins[(kind, plugin.name)] = plugin
        return plugin

    # ---------------------------------------------------------------- the plan

    def plan(self) -> Graph:
        for seed in self.suite.seeds:
            data = {name: self._data(name, seed) for name in self.capabilities}
            weak, strong = self.model(self.suite.weak, seed), self.model(self.suite.strong, seed)
            bases = self._baselines(Group(seed, "joint", list(self.capabilities), data, weak,
                                          strong))
            for mixture in self.suite.mixtures:
                groups = ([list(self.capabilities)] if mixture == "joint"
                          else [[name] for name in self.capabilities])
                for caps in groups:
                    self._group(Group(seed, mixture, caps, data, weak, strong), bases)
        return self.graph

    def model(self, name: str | None, seed: int) -> Model:
        """The suite's model ``name`` as seed ``seed`` uses it (a per-seed tiny model's own
        pretraining seed), trusted when the suite trusts ``name``; no model for None (a
        supervisor that writes its own labels has no weak model)."""
        if name is None:
            return Model()
        return Model(name=seeded(name, seed), trusted=name in self.suite.trust_remote_code)

    def _baselines(self, g: Group) -> dict[str, str]:
        """The untuned strong and weak models on the test split, at each of the suite's shot
        counts, once per seed for every mixture: what a run with no W2S effect would leave."""
        return {f"{who}_{k}shot": self._grade(self._decode(f"eval {who} base {k}-shot", model,
                                                           g, "test", shots=k), g)
                for who, model in (("strong", g.strong), ("weak", g.weak)) if model.name
                for k in self.suite.baseline_shots}

    def _group(self, g: Group, bases: dict[str, str]) -> None:
        sides = {m: self._weak_side(self.supervised[m], g) for m in self.methods}
        ceil_eval = ""  # every fine-tuned student's; a head's ceiling is its own (below)
        if not all(isinstance(steps[0][1], Head) for _, steps in self.methods.values()):
            ceiling = self._train(f"train ceiling [{g.tag}]", g.strong, self.trainer, g,
                                  {"examples": "gold", "split": "unlabeled"}, g.data_inputs())
            ceil_eval = self._grade(self._decode("eval ceiling", ceiling, g, "test"), g)
        controls.check(self.suite, {m: b for m, (s, st) in self.methods.items()
                                    for b in [controls.Budget.of(self._runs(s, st, g.caps))]
                                    if b}, g.tag)
        for method, (selector, steps) in self.methods.items():
            weak, weak_eval, labels = sides[method]
            pool = self._select("all", self.all, g, labels, {})
            head = steps[0][1] if isinstance(steps[0][1], Head) else None
            arm = {**bases, **self._format_control(self.supervised[method], g, pool, head)}
            with blame(selector, self.where, "needs()", ABOVE):
                needs = sorted(selector.needs())
            modelled = [n for n in needs if n in ("weak_model", "weak_logprob")]
            if modelled and weak.stage is None:
                raise PluginError(f"method {method}: selector {selector.name} needs the trained "
                                  f"weak model ({modelled[0]}), and supervisor "
                                  f"{self.supervised[method].name} has none; use the model "
                                  "supervisor, or a selector that does not need it")
            signals = {s: self._signal(s, g, weak, labels, pool, selector) for s in needs}
            select = self._select(method, selector, g, labels, signals)
            if head is not None:  # read off the strong model's features: no weights, no decode
                w2s_eval = self._grade(self._head(f"{method}", head, g, "selected",
                                                  {"selected": select}), g)
                trained_on = [self._trained(selector, select, g)]
                method_ceiling = self._grade(self._head(f"{head.name} ceiling", head, g, "gold",
                                                        {}), g)
            else:
                model, trained_on = self._chain(method, steps, select, pool, g, selector)
                w2s_eval = self._grade(self._decode(f"eval {method}", model, g, "test"), g)
                method_ceiling = ceil_eval
            graded = self._grade(labels, g)
            for cap in g.caps:
                self.graph.evals.append(EvalRef(
                    seed=g.seed, mixture=g.mixture, capability=cap, method=method,
                    weak=weak_eval, ceiling=method_ceiling, w2s=w2s_eval,
                    labels=graded, select=select, data=g.data[cap],
                    baselines=arm, trained_on=trained_on, shapes=[shape(t) for _, t in steps]))
            if g.mixture == "single" and self.suite.transfer and head is None:
                for other in self.capabilities:
                    target = Group(g.seed, g.mixture, [other], g.data, g.weak, g.strong)
                    stage = self._grade(self._decode(f"transfer {method} from {g.caps[0]}",
                                                     model, target, "test"), target)
                    self.graph.transfer.append(TransferRef(
                        seed=g.seed, method=method, trained_on=g.caps[0], evaluated_on=other,
                        stage=stage))

    def _weak_side(self, supervisor: Supervisor, g: Group) -> tuple[Model, str, str]:
        """A supervisor's side of a group: its model (none for a supervisor that writes its
        own labels), its graded test answers (the "weak" score) and its labels of the
        unlabeled split. Planned once a supervisor: the stage ids repeat."""
        if supervisor.model:  # the labels of the weak model: its name is in its stages' params
            weak = self._train(f"train weak [{g.tag}]", g.weak, self.weak_trainer, g,
                               {"examples": "gold", "split": "labeled"}, g.data_inputs())
            return (weak, self._grade(self._decode("eval weak", weak, g, "test"), g),
                    self._decode("label", weak, g, "unlabeled"))
        caps = {c: ref(self.capabilities[c]) for c in g.caps}
        spec = {"supervisor": ref(supervisor), "seed": g.seed, "capabilities": caps}
        digest = code.digest(type(supervisor), *map(type, (self.capabilities[c] for c in g.caps)))
        test, labels = (self._add("supervise", f"{what} {described(supervisor)} "
                                  f"[{'+'.join(g.caps)} seed {g.seed}] ({split})",
                                  {**spec, "split": split}, g.data_inputs(), digest, gpus=0)
                        for what, split in (("eval supervisor", "test"), ("label", "unlabeled")))
        return Model(), self._grade(test, g), labels

    def _format_control(self, supervisor: Supervisor, g: Group, pool: str,
                        head: Head | None = None) -> dict[str, str]:
        """The format-only control of a supervisor's labels (``Suite.format_control``): the
        strong model trained on them shuffled across items, graded on the test split; for a
        head student, the same head fitted on the shuffled labels."""
        if not self.suite.format_control:
            return {}
        of = "" if supervisor.model else f" of {described(supervisor)}"
        if head is not None:
            return {FORMAT: self._grade(self._head(f"format control{of}", head, g, "shuffled",
                                                   {"selected": pool}), g)}
        shuffled = self._train(f"train format control{of} [{g.tag}]", g.strong, self.trainer,
                               g, {"examples": "shuffled"}, {"selected": pool})
        return {FORMAT: self._grade(self._decode(f"eval format control{of}", shuffled, g,
                                                 "test"), g)}

    def _trained(self, selector: Selector, select: str, g: Group) -> str:
        """What a method trained on, for its scores against gold: the select stage, or where
        the selector relabels, that selection's grade stage (its labels are its own)."""
        return self._grade(select, g) if selector.relabels else select

    def _chain(self, method: str, steps: list[tuple[Step, Trainer]], select: str, pool: str,
               g: Group, selector: Selector) -> tuple[Model, list[str]]:
        """Chain the method's training runs, each a cached stage of its own; return the last
        model and what each run trained on (a select stage, or a relabelling's grade stage)."""
        model: Model | None = None
        trained_on = []
        for i, (step, inner) in enumerate(steps, 1):
            if step.data == "self":
                assert model is not None  # _steps refuses a first step on 'self'
                source = self._decode(f"relabel {method} {i}", model, g, "unlabeled",
                                      step.temperature)
                data: dict[str, Any] = {"examples": "self"}
                inputs = {"self": source}
                trained_on.append(self._grade(source, g))
            else:
                data = {"examples": "selected"}
                inputs = {"selected": select if step.data == "selected" else pool}
                trained_on.append(self._trained(selector, select, g)
                                  if step.data == "selected" else pool)
            base = g.strong if model is None or step.restart else model
            what = method if len(steps) == 1 else f"{method} step {i}/{len(steps)}"
            model = self._train(f"train {what} [{g.tag}]", base, inner, g, data, inputs)
        assert model is not None  # _steps refuses a trainer without steps
        return model, trained_on

    def _runs(self, selector: Selector, steps: list[tuple[Step, Trainer]], caps: list[str]
              ) -> list[tuple[int, Footprint | None]]:
        """A method's training runs as planned for ``caps``, each (the examples it will train
        on, its shape): every weak label (the pool, or a relabelling of it), or the share of
        each capability's pool the selector says it keeps."""
        pool = [self.capabilities[c].params.unlabeled for c in caps]
        keeps = footprint_of(selector).keeps
        kept = sum(max(1, round(n * keeps)) for n in pool)
        return [(kept if step.data == "selected" else sum(pool), shape(inner))
                for step, inner in steps]

    def _steps(self, method: str, trainer: Trainer) -> list[tuple[Step, Trainer]]:
        """A method's steps, each with its trainer (params layered over the suite's ``train``
        like a method's), checked before any compute."""
        with blame(trainer, self.where, "steps()", ABOVE):
            steps = trainer.steps()
        if not steps:
            raise PluginError(f"trainer {trainer.name} declares no steps; return at least one")
        if steps[0].data == "self":
            raise PluginError(f"trainer {trainer.name}: its first step cannot train on the "
                              "model's own answers ('self'); start from the weak labels")
        out = []
        for step in steps:
            inner = trainer
            if step.trainer is not None:
                tref = self.suite.over_train(PluginRef(name=step.trainer, params=step.params or {}))
                inner = self._made("trainers", self.registry.make("trainers", tref.name,
                                                                  tref.params))
            if type(inner).steps is not Trainer.steps:
                raise PluginError(f"method {method}: trainer {trainer.name} steps through "
                                  f"{inner.name}, which has steps of its own; name a "
                                  "single-run trainer such as sft")
            out.append((step, inner))
        return out

    def _signal(self, signal: Signal, g: Group, weak: Model, labels: str, pool: str,
                selector: Selector) -> str:
        """The stage whose output answers a selector's need, planned (and cached) once."""
        if signal == "strong_features":
            if len(g.caps) > 1:
                raise PluginError(f"selector {selector.name} reads the strong model's features, "
                                  "one capability at a time; use the `single` mixture")
            with blame(selector, self.where, "layers()", ABOVE):
                layers = sorted(selector.layers())
            return self._features(g, g.caps[0], "unlabeled", layers)
        if signal == "weak_model":
            assert weak.stage is not None  # refused above for a supervisor with no model
            return weak.stage
        if signal == "weak_logprob":
            return self._add("score", f"score weak labels [{g.tag}]",
                             {**weak.params("model"), "backend": ref(self.backend)},
                             {**weak.inputs("model"), "labels": labels},
                             code.digest(type(self.backend)))
        if signal == "base_answer":  # an untuned model: shown solved examples first
            return self._decode("answer strong base", g.strong, g, "unlabeled",
                                shots=self.suite.base_shots)
        # The student is the strong model trained on every weak label: the naive W2S model.
        student = self._train(f"train student [{g.tag}]", g.strong, self.trainer, g,
                              {"examples": "selected"}, {"selected": pool})
        return self._decode("answer student", student, g, "unlabeled")

    # ---------------------------------------------------------------- stage kinds

    def _resources(self, kind: str, gpus: int = 1) -> Resources:
        default = Resources(gpus=gpus)
        override = self.suite.resources.get(kind)
        return default.model_copy(update=override.model_dump(exclude_unset=True)) \
            if override else default

    def _add(self, kind: str, label: str, params: dict[str, Any], inputs: dict[str, str],
             digest: str, gpus: int = 1) -> str:
        """A stage, its params checked against its kind's model (``runners.KINDS``): a
        planner bug fails here, at planning, not in a worker."""
        made = KINDS[kind]
        typed = made.params.model_validate(params)
        return self.graph.add(StageSpec(kind=kind, label=label, params=typed, inputs=inputs,
                                        code=digest, resources=self._resources(kind, gpus),
                                        revision=made.revision))

    def _data(self, name: str, seed: int) -> str:
        cap = self.capabilities[name]
        return self._add("data", f"data {name} seed {seed}",
                         {"capability": ref(cap), "source": self.sources[name], "seed": seed},
                         {}, code.digest(type(cap)), gpus=0)

    def _features(self, g: Group, cap: str, split: str, layers: list[int]) -> str:
        """The untuned strong model's hidden states at ``layers`` on one capability's split:
        one stage shared by every head and probe selector that reads them."""
        return self._add("features", f"features {split} layers {','.join(map(str, layers))} "
                         f"[{cap} seed {g.seed}]",
                         {**g.strong.params("model"), "split": split, "capability": cap,
                          "layers": layers, "backend": ref(self.backend)},
                         {**g.strong.inputs("model"), f"data:{cap}": g.data[cap]},
                         code.digest(type(self.backend)))

    def _head(self, what: str, head: Head, g: Group, examples: str,
              inputs: dict[str, str]) -> str:
        """A head student's answers to the test split: fitted on the unlabeled split's
        features with ``examples`` (gold, the selection, or its labels shuffled)."""
        with blame(head, self.where, "layers()", ABOVE):
            layers = sorted(head.layers())
        feats = {f"features:{c}:{split}": self._features(g, c, split, layers)
                 for c in g.caps for split in ("unlabeled", "test")}
        caps = {c: ref(self.capabilities[c]) for c in g.caps}
        return self._add("head", f"head {what} [{g.tag}] (test)",
                         {"trainer": ref(head), "seed": g.seed, "split": "test",
                          "capabilities": caps, "examples": examples},
                         {**inputs, **feats, **g.data_inputs()},
                         code.digest(type(head), *map(type, (self.capabilities[c]
                                                             for c in g.caps))), gpus=0)

    def _train(self, label: str, base: Model, trainer: Trainer, g: Group,
               data: dict[str, Any], inputs: dict[str, str]) -> Model:
        try:
            with blame(trainer, self.where, "check_processes()", ABOVE):
                trainer.check_processes(self._resources("train").ranks)
        except HarnessError as exc:
            raise HarnessError(f"{label}: {exc}") from None
        params = {"trainer": ref(trainer), "seed": g.seed, **base.params("base"), **data}
        if data["examples"] == "gold":
            params["capabilities"] = g.caps
        stage = self._add("train", label, params, {**base.inputs("base"), **inputs},
                          code.digest(type(trainer)))
        return Model(stage=stage, trusted=base.trusted)

    def _decode(self, what: str, model: Model, g: Group, split: str,
                temperature: float = 0.0, shots: int = 0) -> str:
        """Completions of ``split``'s prompts. No capability code runs here (prompts come
        from the data stage), so a change to a capability's scoring keeps every decode."""
        params = {
            **model.params("model"),
            "split": split,
            "capabilities": list(g.caps),
            "decode": {c: self.decode_config(c, temperature, g.seed).model_dump()
                       for c in g.caps},
            "backend": ref(self.backend),
        }
        if shots:
            params.update(shots=shots, shot_seed=g.seed)
        return self._add("decode", f"{what} [{'+'.join(g.caps)} seed {g.seed}] ({split})",
                         params, {**model.inputs("model"), **g.data_inputs()},
                         code.digest(type(self.backend)))

    def _grade(self, decode: str, g: Group) -> str:
        """The capabilities' scores of a decode (or supervise, head, or relabelling select)
        stage's completions against the gold answers."""
        spec = self.graph.stages[decode]
        made = spec.params
        if not isinstance(made, (DecodeParams, SuperviseParams, HeadParams, SelectParams)):
            raise TypeError(f"{spec.label}: a {spec.kind} stage has no completions to grade")
        caps = {c: self.capabilities[c] for c in g.caps}
        split = "unlabeled" if isinstance(made, SelectParams) else made.split
        return self._add("grade", f"grade {spec.label}",
                         {"split": split,
                          "capabilities": {c: ref(cap) for c, cap in caps.items()}},
                         {"completions": decode, **g.data_inputs()},
                         code.digest(*map(type, caps.values())), gpus=0)

    def decode_config(self, cap: str, temperature: float = 0.0, seed: int = 0) -> DecodeConfig:
        """A capability's decode settings: its own, under the suite's, under sampling's."""
        base = type(self.capabilities[cap]).decode
        sampled = {"temperature": temperature, "seed": seed} if temperature else {}
        return DecodeConfig.model_validate({**base.model_dump(), **self.suite.decode, **sampled})

    def _select(self, method: str, selector: Selector, g: Group, labels: str,
                signals: dict[Signal, str]) -> str:
        caps = {c: self.capabilities[c] for c in g.caps}
        params = {
            "selector": ref(selector), "seed": g.seed, "backend": ref(self.backend),
            "capabilities": {c: ref(cap) for c, cap in caps.items()},
            "strong": g.strong.name, "strong_identity": model_identity(g.strong.name or ""),
            "weak": g.weak.name, "trust_remote_code": g.strong.trusted,
        }
        inputs = {"labels": labels, **g.data_inputs(),
                  **{f"signal:{name}": stage for name, stage in signals.items()}}
        return self._add("select", f"select {method} [{g.tag}]", params, inputs,
                         code.digest(type(selector), *map(type, caps.values())),
                         gpus=type(selector).gpus)


def described(plugin: Plugin) -> str:
    """A plugin with its params, for a stage's label: ``simulated q=0.35 errors=random``."""
    return " ".join([plugin.name, *(f"{k}={v}" for k, v in plugin.params.model_dump().items())])


def plan(suite: Suite, registry: Registry, backend: str) -> tuple[Planner, Graph]:
    """The planner (its resolved capabilities and sources) and the suite's graph."""
    planner = Planner(suite, registry, backend)
    return planner, planner.plan()
