"""Fixtures for the notifier tests; the servers themselves live in ``loopback.py``."""

from __future__ import annotations

from .loopback import slack_server, smtp_server

__all__ = ["slack_server", "smtp_server"]
