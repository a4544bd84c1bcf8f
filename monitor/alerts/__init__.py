"""alerts stage."""
