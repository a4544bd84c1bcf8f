"""monitor: a self-hosted news monitor."""

__version__ = "0.1.0"
