"""The bundle's entry point: the same `tokentray` command a pip install gives."""

import sys

from tokentray.cli import main

if __name__ == "__main__":
    sys.exit(main())
