"""The command line: ``parser`` reads the arguments, ``main`` dispatches, one module per
group of commands calls the engine, and ``output`` formats everything printed."""

from tokentray.cli.exits import EXIT_OK, EXIT_STORE, EXIT_UNREADABLE, EXIT_USAGE
from tokentray.cli.main import main

__all__ = ["EXIT_OK", "EXIT_STORE", "EXIT_UNREADABLE", "EXIT_USAGE", "main"]
