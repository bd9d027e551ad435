"""The rules that turn tracks into events: intrusion, line crossing, stopped vehicle and
unattended object. Camera tamper and offline events are raised elsewhere."""

from vigil.analytics.rules.engine import RuleEngine

__all__ = ["RuleEngine"]
