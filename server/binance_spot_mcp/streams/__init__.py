"""streams wing (docstring to write)."""
