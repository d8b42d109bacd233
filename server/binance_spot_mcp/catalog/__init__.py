"""catalog wing (docstring to write)."""
