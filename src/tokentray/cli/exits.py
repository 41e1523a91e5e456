"""The command line's exit codes, one rule for every command."""

EXIT_OK = 0
EXIT_ERROR = 1  # an unexpected error
EXIT_USAGE = 2  # bad arguments or input
EXIT_UNREADABLE = 3  # some log files could not be read (everything else was ingested)
EXIT_STORE = 4  # the store cannot be opened or written (a report still shows what is stored)
EXIT_PROBLEM = 5  # a provider key or API is not usable
