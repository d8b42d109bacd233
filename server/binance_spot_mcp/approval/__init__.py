"""approval wing (docstring to write)."""
