"""Cross-cutting pieces: database, templating, htmx helpers, errors."""
