"""The typed settings tree and ``load_settings(path)`` (DESIGN §7).

One noun per module: ``types`` (the annotated value types: versions, images and specifiers
parsed once, at load), ``loader`` (YAML/JSON files and their limits), ``secrets`` (``${ENV}``,
``*_file`` twins, redaction), ``paths`` and ``problems`` (how errors name a key), the sections
(``sources``, ``policy``, ``deployments``, ``receivers``), ``references`` (cross-key rules) and
``settings`` (the tree and ``load_settings``). Every name other modules import is here.
"""

from supportwatch.config.deployments import DeploymentSettings
from supportwatch.config.loader import MAX_CONFIG_BYTES, MAX_NESTING, MAX_SECRET_BYTES
from supportwatch.config.paths import DeploymentAt, Loc, format_path
from supportwatch.config.policy import (
    DEFAULT_CHART_UPGRADES,
    MAX_REMINDER_DAYS,
    ChartUpgradeSettings,
    CompatibilityRule,
    KnownIncompatibility,
    PolicySettings,
)
from supportwatch.config.receivers import (
    EmailSettings,
    NotifySettings,
    ReceiverSettings,
    RouteMatch,
    RouteSettings,
    SlackSettings,
    SmtpSettings,
)
from supportwatch.config.references import check_references
from supportwatch.config.secrets import SECRET_KEYS, hide_database_password, redact_url, render_database_url
from supportwatch.config.settings import (
    DATABASE_URL_FORMS,
    MAX_TIMEZONE_LENGTH,
    LogSettings,
    ScheduleSettings,
    Settings,
    WebSettings,
    load_settings,
)
from supportwatch.config.sources import (
    SOURCE_KINDS,
    AstroUpdatesSource,
    FeedSource,
    HelmSource,
    HttpSettings,
    SourceHealthSettings,
    SourceSettings,
    StaticRelease,
    StaticSource,
)
from supportwatch.config.types import AGENT_REPOSITORY, AGENT_REPOSITORY_NAME

__all__ = [
    "AGENT_REPOSITORY",
    "AGENT_REPOSITORY_NAME",
    "DATABASE_URL_FORMS",
    "DEFAULT_CHART_UPGRADES",
    "MAX_CONFIG_BYTES",
    "MAX_NESTING",
    "MAX_REMINDER_DAYS",
    "MAX_SECRET_BYTES",
    "MAX_TIMEZONE_LENGTH",
    "SECRET_KEYS",
    "SOURCE_KINDS",
    "AstroUpdatesSource",
    "ChartUpgradeSettings",
    "CompatibilityRule",
    "DeploymentAt",
    "DeploymentSettings",
    "EmailSettings",
    "FeedSource",
    "HelmSource",
    "HttpSettings",
    "KnownIncompatibility",
    "Loc",
    "LogSettings",
    "NotifySettings",
    "PolicySettings",
    "ReceiverSettings",
    "RouteMatch",
    "RouteSettings",
    "ScheduleSettings",
    "Settings",
    "SlackSettings",
    "SmtpSettings",
    "SourceHealthSettings",
    "SourceSettings",
    "StaticRelease",
    "StaticSource",
    "WebSettings",
    "check_references",
    "format_path",
    "hide_database_password",
    "load_settings",
    "redact_url",
    "render_database_url",
]
