"""The read-only web UI (``monitor serve``): topic pages grouped by story, Atom feeds per topic,
story pages, source health, the outbox, and search with the topic query language."""

from monitor.web.server import ServeError, serve

__all__ = ["ServeError", "serve"]
