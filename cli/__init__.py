"""The `sweep` command line, above both packages: `sweep run` (the engine, `sweep`) and
`sweep report` (the analysis, `analysis`)."""

from cli.commands import main

__all__ = ["main"]
