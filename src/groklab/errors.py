"""The one exception for bad user input."""
from __future__ import annotations

import os


class ConfigError(ValueError):
    """Bad user input.  ``str(err)`` is a one-line message naming the option, the value and what
    is allowed; the CLI prints it and exits with status 2."""

    def __init__(self, option: str, message: str):
        self.option = option
        super().__init__(f"--{option.replace('_', '-')}: {message}")

    @classmethod
    def environment(cls, variable: str, message: str) -> "ConfigError":
        """Bad input given by an environment variable: the line names it and its value
        (``GROKLAB_MAX_MEMORY='1x': ...``), not an option it does not come from."""
        err = cls(variable, message)
        err.args = (f"{variable}={os.environ.get(variable, '')!r}: {message}",)
        return err


class StoreError(OSError):
    """The results directory could not be written (disk full, read-only, ...) or read.  ``str``
    is one line saying which file, why, and that the committed runs are intact; the CLI prints it
    and exits with status 1."""
