"""Errors the CLI turns into one line and exit status 2.

Each message says what is wrong and how to fix it; the CLI prints it without a traceback.
"""


class HarnessError(Exception):
    """A problem the user can fix: bad input, a missing file, a broken plugin."""


class PluginError(HarnessError):
    """A plugin failed to load or registered something invalid."""


class SuiteError(HarnessError):
    """A suite file or a command-line override is invalid."""


class DataError(HarnessError):
    """A dataset source is missing or malformed."""
