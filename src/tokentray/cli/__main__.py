import sys

from tokentray.cli import main

sys.exit(main())
