"""Imported once by the local executor's forkserver, so each stage's fresh worker process
starts with torch and transformers already loaded (about 3 s saved per stage). Never imported
by the parent process."""

try:
    import torch  # noqa: F401
    from transformers import AutoModelForCausalLM, Trainer  # noqa: F401
except Exception:  # noqa: BLE001 - a worker then imports what it needs itself
    pass
