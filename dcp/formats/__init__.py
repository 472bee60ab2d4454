"""Date and number formats of the console, per language (Django FORMAT_MODULE_PATH)."""
