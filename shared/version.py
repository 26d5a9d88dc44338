"""The project's version, in one place: pyproject.toml reads it at build time.

A constant rather than ``importlib.metadata``, whose import alone costs a command ~30 ms
in a regular (non-editable) install: `mas --version` should answer at once.
"""

VERSION = "0.1.0"
