"""The one exception for bad user input."""
from __future__ import annotations


class ConfigError(ValueError):
    """Bad user input.  ``str(err)`` is a one-line message naming the option, the value and what
    is allowed; the CLI prints it and exits with status 2."""

    def __init__(self, option: str, message: str):
        self.option = option
        super().__init__(f"--{option.replace('_', '-')}: {message}")
