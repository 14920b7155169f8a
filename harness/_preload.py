"""Imported once by the local executor's forkserver, so each stage's fresh worker process
starts with the plugin registry built (a registry costs about 0.5 s a stage once torch is
loaded, as pydantic reads each plugin's field docstrings from source). Never imported by the
parent process; ``harness._preload_models`` follows it where the run's plugins load models.

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
