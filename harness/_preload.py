"""Imported once by the local executor's forkserver, so each stage's fresh worker process
starts with the plugin registry built and torch and transformers loaded (a registry costs
about 0.5 s a stage once torch is loaded, as pydantic reads each plugin's field docstrings
from source; the imports, about 7 s). Never imported by the parent process.

The registry is built first, while few modules are loaded, and under the run's plugin
snapshot (``harness.plugins.snapshot`` is set before the first worker starts). What it says
(warnings the parent already said) is dropped here; a registry that fails to build is left
for each worker to build again and report."""

import contextlib
import io

try:
    from harness.plugins import registry

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        registry()
except Exception:  # noqa: BLE001 - a worker then builds it itself and says what is wrong
    pass
try:
    import torch  # noqa: F401
    from transformers import AutoModelForCausalLM, Trainer  # noqa: F401
except Exception:  # noqa: BLE001 - a worker then imports what it needs itself
    pass
