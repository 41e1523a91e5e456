"""What the tray, the graph window and ``tokentray snapshot`` show, computed from the store
without Qt: today's snapshot (``live``), burn series kept up to date incrementally
(``series_cache``) and everything the graph window draws (``graph``). The ui/ layer only
displays these; the CLI and the tests use them directly."""
