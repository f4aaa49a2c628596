"""The package version (a leaf, so that run metadata can name it without importing the API)."""

__version__ = "0.1.0"
