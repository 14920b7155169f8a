"""Imported once by the local executor's forkserver after ``harness._preload`` when the run's
plugins load models: torch and transformers (about 7 s on one core) then load once for every
stage's worker instead of in each. A run of plugins that load none (``hub_models`` false
everywhere) skips it. Never imported by the parent process."""

try:
    import torch  # noqa: F401
    from transformers import AutoModelForCausalLM, Trainer  # noqa: F401
except Exception:  # noqa: BLE001 - a worker then imports what it needs itself
    pass
