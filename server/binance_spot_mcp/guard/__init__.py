"""guard wing (docstring to write)."""
