"""Hypermedia UI routes: full pages and htmx fragments."""
