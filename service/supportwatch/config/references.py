"""Cross-key rules, checked once the tree has validated: names, references, Slack URLs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from supportwatch.config.paths import DeploymentAt, Loc, format_path
from supportwatch.errors import ConfigError

if TYPE_CHECKING:
    from supportwatch.config.settings import Settings


def check_references(settings: Settings, deployments_file: str = "") -> None:
    """Cross-key rules: unique names, routes (and the data-health receiver) to known receivers and
    teams, digest channels the receiver configures, email needs smtp.

    ``deployments_file`` names the file the deployments are in, for error paths.
    """
    names = [item.name for item in settings.deployments]
    _unique(names, "deployments", "deployment name", lambda i: (DeploymentAt(deployments_file, i, names[i]),))
    _unique([item.name for item in settings.sources], "sources", "source name")
    _unique([item.name for item in settings.receivers], "receivers", "receiver name")
    receivers = {item.name for item in settings.receivers} | {"console"}
    teams = {item.team for item in settings.deployments}
    for index, route in enumerate(settings.routes):
        if route.receiver not in receivers:
            raise ConfigError(
                f"routes[{index}].receiver",
                f"{route.receiver!r} is not a receiver; known: {', '.join(sorted(receivers))}",
            )
        if route.match.team not in teams:
            raise ConfigError(
                f"routes[{index}].match.team",
                f"{route.match.team!r} is the team of no deployment; "
                f"known teams: {', '.join(sorted(teams)) or 'none'}",
            )
    if settings.default_receiver not in receivers:
        raise ConfigError(
            "default_receiver",
            f"{settings.default_receiver!r} is not a receiver; known: {', '.join(sorted(receivers))}",
        )
    if settings.data_health_receiver is not None and settings.data_health_receiver not in receivers:
        raise ConfigError(
            "data_health_receiver",
            f"{settings.data_health_receiver!r} is not a receiver; known: {', '.join(sorted(receivers))}",
        )
    for index, receiver in enumerate(settings.receivers):
        if receiver.digest is not None:
            configured = [kind for kind in ("slack", "email") if getattr(receiver, kind) is not None]
            for position, channel in enumerate(receiver.digest.channels):
                if channel not in configured:
                    raise ConfigError(
                        f"receivers[{index}].digest.channels[{position}]",
                        f"{channel!r} is not configured for receiver {receiver.name!r}; "
                        f"its channels: {', '.join(configured) or 'none'}",
                    )
        if receiver.email is not None and settings.smtp is None:
            raise ConfigError(
                f"receivers[{index}].email", "email receivers need an smtp: section (host, sender)"
            )
        if receiver.slack is not None:
            allow_http = settings.http.allow_private_networks
            if receiver.slack.webhook_url is not None:
                _check_slack_url(
                    receiver.slack.webhook_url.get_secret_value(),
                    f"receivers[{index}].slack.webhook_url",
                    "https://hooks.slack.com/services/...",
                    allow_http=allow_http,
                )
            if receiver.slack.api_url is not None:
                _check_slack_url(
                    receiver.slack.api_url,
                    f"receivers[{index}].slack.api_url",
                    "https://slack.com/api/",
                    allow_http=allow_http,
                )


def _check_slack_url(url: str, path: str, example: str, *, allow_http: bool) -> None:
    """A Slack URL must be https with a host (http only with http.allow_private_networks).

    The messages never show the URL: a webhook URL is a secret.
    """
    expected = f"expected an https:// URL with a host, e.g. {example} (the value is not shown)"
    if any(char.isspace() or not char.isprintable() for char in url):
        raise ConfigError(path, f"holds whitespace or control characters; {expected}")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(path, f"is not a URL; {expected}") from None
    scheme = parts.scheme.lower()
    if scheme == "http" and not allow_http:
        raise ConfigError(
            path,
            "uses http://, which sends the secret in clear text; use https:// (http is allowed only with "
            "http.allow_private_networks: true, for a local test server)",
        )
    if scheme not in ("https", "http"):
        raise ConfigError(path, f"has no https:// scheme; {expected}")
    if not host:
        raise ConfigError(path, f"has no host; {expected}")


def _unique(names: list[str], key: str, what: str, where: Callable[[int], Loc] | None = None) -> None:
    """Refuse a repeated name; ``where(index)`` locates an item (default ``key[index]``)."""
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in seen:
            loc = where(index) if where else (key, index)
            raise ConfigError(
                format_path((*loc, "name")),
                f"duplicate {what} {name!r} (first at {key}[{seen[name]}]); names must be unique",
            )
        seen[name] = index
