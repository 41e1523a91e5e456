import sys

from tokentray.cli.main import main

sys.exit(main())
