"""Processes: the supervisor and one recording process per camera."""
