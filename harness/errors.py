"""Errors the CLI turns into one line and exit status 2.

Each message says what is wrong and how to fix it; the CLI prints it without a traceback.
"""


class HarnessError(Exception):
    """A problem the user can fix: bad input, a missing file, a broken plugin."""


class PluginError(HarnessError):
    """A plugin failed to load or registered something invalid."""


class PluginFault(HarnessError):
    """A plugin's code raised while a stage ran it (the message names plugin and stage)."""


class SuiteError(HarnessError):
    """A suite file or a command-line override is invalid."""


class DataError(HarnessError):
    """A dataset source is missing or malformed."""


def one_line(exc: Exception) -> str:
    """A pydantic ValidationError (or any error) as ``field: problem; ...`` on one line."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        parts = []
        for e in errors():
            loc = ".".join(str(x) for x in e.get("loc", ())) or "(top level)"
            parts.append(f"{loc}: {e.get('msg')}")
        return "; ".join(parts)
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
