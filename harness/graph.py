"""The stage graph: frozen, JSON-serialisable stage specs, and the cache key each one gets.

A spec is data only: what kind of work (a runner in ``harness.runners``), its params, its
inputs by role (upstream stage ids), the digest of the plugin code it runs, and the resources
it needs. Any process (a worker, a Ray task, a rank under a launcher) can run it from the JSON.

Two identities:
- a stage's **id** hashes its spec with its inputs' *ids*; it exists at plan time, and the
  planner shares one stage among every method and mixture that asks for the same work;
- its **cache key** hashes its spec with its inputs' *output digests*; it exists once the inputs
  have finished, so a recomputed input whose output changed changes every key downstream, and
  one whose output is byte-identical changes none.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, \
    field_serializer, field_validator

from harness.footprint import Footprint
from harness.store import content_key

CACHE_SCHEMA = 3
"""Part of every cache key; bumped when the cache layout or keying changes (2: output-chained
keys; 3: decoding and grading are separate stages), so older entries are recomputed once
rather than misread."""

Strategy = Literal["auto", "single", "ddp", "fsdp", "fsdp-offload", "deepspeed"]


class Resources(BaseModel):
    """What one stage needs: the executor reserves it and hands the worker its share."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gpus: int = Field(0, ge=0, description="devices; an executor with fewer runs it on what it has")
    cpus: int = Field(1, ge=1, description="CPU threads (a Ray task's num_cpus)")
    ranks: int = Field(1, ge=1, description="processes started by the launcher (accelerate)")
    strategy: Strategy = Field(
        "auto", description="how ranks share a model: auto (one device when it fits, else "
                            "FSDP, as `harness plan` sizes it), ddp, fsdp, fsdp-offload, deepspeed")
    accelerate_config: str | None = Field(
        None, description="your own accelerate config file, used instead of the generated one")
    memory_gb: float = Field(0.0, ge=0, description="estimate, for the plan; not enforced")


class StageParams(BaseModel):
    """A stage kind's params: what the planner puts in ``StageSpec.params`` and what its
    runner, sizing and preflight read back, by field. ``spec_params`` dumps only the fields
    set, so a spec's params (and its id and key) are exactly what the planner gave, and a spec
    read back from JSON has the same ones."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())
    kind: ClassVar[str]

    @classmethod
    def of(cls: type[P], spec: StageSpec) -> P:
        """``spec``'s params as this model (a spec of another kind is a bug: it raises)."""
        if isinstance(spec.params, cls):
            return spec.params
        if isinstance(spec.params, Untyped):  # read back untyped: checked now, strictly
            return cls.model_validate(spec.params.spec_params())
        raise TypeError(f"{spec.label}: {spec.kind} params are not {cls.__name__}")

    def spec_params(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)

    def capability_names(self) -> list[str]:
        return list(getattr(self, "capabilities", None) or [])


P = TypeVar("P", bound=StageParams)


class Untyped(StageParams):
    """Params read back that no registered model takes: a kind not registered in this
    process (a third-party kind), or a record written by another version of its kind. Kept as
    given, so the record still loads and re-dumps byte-identically; a runner's ``of``
    validates them strictly, so none runs on them unchecked."""

    model_config = ConfigDict(extra="allow", frozen=True)
    kind: ClassVar[str] = ""


PARAMS: dict[str, type[StageParams]] = {}
"""Each registered stage kind's params model (``runners.register`` fills it): what a spec's
params are validated as."""


class StageSpec(BaseModel):
    """One unit of work, as data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    """A name in ``runners.KINDS``."""
    label: str
    """For people: progress lines, manifests, ``--force LABEL``. Not part of the id or key."""
    params: StageParams
    """Its kind's params model (``PARAMS``); a dict given here is validated as one."""
    inputs: dict[str, str] = Field(default_factory=dict)
    """Role -> upstream stage id (e.g. ``model``, ``labels``, ``data:synth_scan``)."""
    code: str = ""
    """Digest of the source of the plugin modules this stage runs (``harness.code``)."""
    resources: Resources = Resources()
    revision: int = 1
    """Its kind's output revision (``runners.StageKind.revision``): in the cache key once past
    1, never in the id."""

    @field_validator("params", mode="before")
    @classmethod
    def _typed(cls, value: Any, info: ValidationInfo) -> StageParams:
        model = PARAMS.get(info.data.get("kind", ""))
        if isinstance(value, StageParams):
            if model is None or isinstance(value, model):
                return value
            value = value.spec_params()
        if model is not None:
            try:
                return model.model_validate(value)
            except ValidationError:
                pass  # a record from another version: loads as given, ``of`` checks it
        return Untyped.model_validate(value)

    @field_serializer("params")
    def _dump(self, params: StageParams) -> dict[str, Any]:
        return params.spec_params()

    @property
    def slug(self) -> str:
        """The label as a file name."""
        return re.sub(r"[^\w.+-]+", "_", self.label).strip("_")

    @property
    def id(self) -> str:
        return content_key({"kind": self.kind, "params": self.params.spec_params(),
                            "inputs": self.inputs, "code": self.code})

    def key(self, digests: dict[str, str]) -> str:
        """The cache key, from the output digests of this stage's inputs (by role)."""
        missing = set(self.inputs) - set(digests)
        if missing:
            raise ValueError(f"{self.label}: no digest for inputs {sorted(missing)}")
        revision = {"revision": self.revision} if self.revision > 1 else {}
        return content_key({"schema": CACHE_SCHEMA, "kind": self.kind,
                            "params": self.params.spec_params(),
                            "inputs": {r: digests[r] for r in self.inputs}, "code": self.code,
                            **revision})


class EvalRef(BaseModel):
    """The stages behind one result row (seed, mixture, capability, method), by stage id."""

    seed: int
    mixture: str
    capability: str
    method: str
    weak: str
    ceiling: str
    w2s: str
    labels: str
    select: str
    data: str
    baselines: dict[str, str] = Field(default_factory=dict)
    """Untuned models graded on the test split (``strong_0shot``, ``strong_3shot``,
    ``weak_0shot``, ...): the results an empty W2S effect would leave."""
    trained_on: list[str] = Field(default_factory=list)
    """Every set the method's strong model trained on, one grade or select stage a training
    step, in order (a select stage's items are scored through ``labels``; a relabelling's own
    grade stage scores a self-bootstrap round)."""
    shapes: list[Footprint | None] = Field(default_factory=list)
    """Each training step's shape (epochs, batch, steps), beside ``trained_on``: with the
    sizes of what it trained on, the method's training budget (``harness.controls``)."""


class TransferRef(BaseModel):
    seed: int
    method: str
    trained_on: str
    evaluated_on: str
    stage: str


class Graph(BaseModel):
    """Stages in a topological order (the order they were planned), and the result index."""

    stages: dict[str, StageSpec] = Field(default_factory=dict)
    evals: list[EvalRef] = Field(default_factory=list)
    transfer: list[TransferRef] = Field(default_factory=list)

    def add(self, spec: StageSpec) -> str:
        """Add a stage (once, however many plans share it); return its id."""
        for upstream in spec.inputs.values():
            if upstream not in self.stages:
                raise ValueError(f"{spec.label}: input {upstream} is not in the graph yet")
        self.stages.setdefault(spec.id, spec)
        return spec.id

    def readers(self, node: str) -> list[str]:
        """The stages that take ``node``'s output as an input."""
        return [n for n, s in self.stages.items() if node in s.inputs.values()]
