"""The Qt layer: it only displays and edits; the engine does the work off the GUI thread."""
