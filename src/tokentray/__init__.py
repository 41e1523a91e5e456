"""tokentray: see what your AI coding agents burn, as it happens."""

__version__ = "0.1.0"
