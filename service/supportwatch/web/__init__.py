"""The read-only HTTP layer (DESIGN §3 step 5): ICS feeds, JSON API, dashboard, health, metrics.

Everything here reads through the ``Service``'s read methods (never its store or engine);
nothing triggers a poll or a send. Build it with ``create_app(settings, service=..., clock=...)``.
"""

from supportwatch.web.app import create_app

__all__ = ["create_app"]
