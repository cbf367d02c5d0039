"""Runnable experiments and the demo; each module is a command (``python -m refefl.experiments.<name>``)."""
