"""The exit codes of `mas` (documented in `mas --help` and cli/main.py).

A module of their own, importing nothing, so that cli/main.py's error boundary knows them
without loading typer (cli/common.py re-exports them for the command modules).
"""

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_RELAYS = 3
EXIT_AUTH = 4
EXIT_OVERDUE = 5  # `champion watch --once`: someone you champion is overdue
EXIT_INTERRUPTED = 130
