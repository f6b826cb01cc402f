"""Medic: heartbeat monitoring with PagerDuty and Slack alerting."""

__version__ = "1.0.0"
