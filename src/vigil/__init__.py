"""Vigil: an accountable, crash-safe video management system for public-safety cameras."""

__version__ = "0.1.0"
