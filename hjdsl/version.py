"""The package version (one source of truth)."""

__version__ = "0.1.0"
