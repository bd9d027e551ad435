"""Turning pictures into the few events that matter: motion, detection, tracking, rules."""
