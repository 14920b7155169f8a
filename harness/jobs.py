"""The boundary between the scheduler and a worker: a stage to run, as data, and what became
of it. Both cross processes (a fresh worker, a Ray task) as JSON, never shared memory."""

from __future__ import annotations

from pydantic import BaseModel, Field

from harness.graph import StageSpec


class Job(BaseModel):
    """A stage to run, with everything a worker needs and nothing it must share in memory."""

    spec: StageSpec
    key: str
    inputs: dict[str, str] = Field(default_factory=dict)
    """Role -> the input's cache entry directory."""
    root: str
    """The store's root (``$HARNESS_HOME``), on a filesystem every worker sees."""
    force: bool = False
    threads: int = 0
    """CPU threads for torch, OpenMP and MKL (0: leave the defaults)."""
    devices: str | None = None
    """``CUDA_VISIBLE_DEVICES`` for the worker (None: leave as is)."""
    log: str = ""
    """File the worker's output goes to (empty: inherit the parent's)."""
    parent: int | None = None
    """The pid whose death ends this worker, so a killed run leaves no stray compute."""


class Outcome(BaseModel):
    """What became of one stage: served or computed, where, when, and its output digest."""

    node: str
    label: str
    kind: str
    key: str = ""
    entry: str = ""
    cached: bool = False
    digest: str | None = None
    error: str | None = None
    started: float = 0.0
    finished: float = 0.0
    pid: int = 0
    host: str = ""
    cluster_node: str = ""
    """The Ray node that ran it (its node id), on a Ray cluster."""
    threads: int = 0
    device: str = ""
    log: str = ""
    launch: dict | None = None
    """The launcher and its config, for a stage run as several ranks."""

    @property
    def seconds(self) -> float:
        return round(self.finished - self.started, 2)

    @classmethod
    def of(cls, spec: StageSpec, **fields) -> Outcome:
        """An outcome of ``spec``'s stage, naming it as every outcome does."""
        return cls(node=spec.id, label=spec.label, kind=spec.kind, **fields)
