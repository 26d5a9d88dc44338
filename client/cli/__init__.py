"""The `mas` command line, one Typer module per command group."""
