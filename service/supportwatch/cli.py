"""The ``supportwatch`` command (DESIGN §7).

Exit codes: 0 ok; 1 findings at or above ``--fail-on`` or a failed poll/send; 2 usage or
config error (the message names the key path and the bad value).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Annotated, Any, NoReturn
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.exc import SQLAlchemyError

from supportwatch.checks import worst
from supportwatch.config import Settings, load_settings, redact_url
from supportwatch.errors import ConfigError
from supportwatch.models import Severity
from supportwatch.report import check_document, check_table, releases_document, releases_table
from supportwatch.service import Service

DEFAULT_CONFIG = "config/supportwatch.yaml"

app = typer.Typer(
    name="supportwatch",
    help="Keeps Astro Remote Execution Agent deployments inside the vendor's maintenance policy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


class FailOn(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"
    NEVER = "never"


class ComponentChoice(StrEnum):
    AGENT = "agent"
    CHART = "chart"
    RUNTIME = "runtime"


@dataclass
class Context:
    config_path: str


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"supportwatch: error: {message}", err=True)
    raise typer.Exit(code)


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            help="Config file (else $SUPPORTWATCH_CONFIG, else config/supportwatch.yaml).",
        ),
    ] = None,
) -> None:
    ctx.obj = Context(config or os.environ.get("SUPPORTWATCH_CONFIG") or DEFAULT_CONFIG)


def _settings(ctx: typer.Context) -> Settings:
    path = ctx.ensure_object(Context).config_path
    try:
        return load_settings(path)
    except ConfigError as exc:
        _fail(f"config {path}: {exc}")


@contextmanager
def _service(ctx: typer.Context, *, migrate: bool | None = None) -> Iterator[Service]:
    """The service for one command; database failures become a clear exit-2 error."""
    settings = _settings(ctx)
    try:
        service = Service.open(settings, migrate=migrate)
        try:
            service.apply_static(datetime.now(UTC))
            yield service
        finally:
            service.close()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        _fail(
            f"cannot open the database {redact_url(settings.database_url)}: {redact_url(reason)}; "
            "check database_url and that the server is reachable"
        )


def parse_at(text: str | None, tz: ZoneInfo, *, now: datetime | None = None) -> datetime:
    """``--at``: an ISO date (that day's start in ``tz``) or datetime (naive means ``tz``)."""
    if text is None:
        return now or datetime.now(UTC)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time(0, 0), tzinfo=tz).astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        _fail(
            f"--at {text!r} is not an ISO date or datetime; "
            "expected e.g. 2026-11-24 or 2026-11-24T09:00:00+00:00"
        )
    return (moment if moment.tzinfo else moment.replace(tzinfo=tz)).astimezone(UTC)


AtOption = Annotated[str | None, typer.Option("--at", help="Evaluate as of this ISO date or datetime.")]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table for people, json for scripts.")]


def _print_json(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


@app.command()
def check(
    ctx: typer.Context,
    at: AtOption = None,
    output: FormatOption = OutputFormat.TABLE,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 on findings this severe or worse.")
    ] = FailOn.CRITICAL,
) -> None:
    """Evaluate the tracked deployments against the stored catalog."""
    settings = _settings(ctx)
    now = parse_at(at, settings.tz)
    with _service(ctx) as service:
        reports = service.evaluate(now)
    if output is OutputFormat.JSON:
        _print_json(check_document(reports, now))
    else:
        typer.echo(check_table(reports))
    found = worst(reports)
    if fail_on is not FailOn.NEVER and found is not None and found.rank >= Severity(fail_on.value).rank:
        raise typer.Exit(1)


@app.command()
def releases(
    ctx: typer.Context,
    component: Annotated[
        ComponentChoice | None, typer.Option("--component", help="Only this component.")
    ] = None,
    at: AtOption = None,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """The catalog and each agent minor's maintenance window."""
    settings = _settings(ctx)
    now = parse_at(at, settings.tz)
    with _service(ctx) as service:
        catalog = service.catalog(now)
        document = releases_document(service.releases(), catalog, component.value if component else None)
    if output is OutputFormat.JSON:
        _print_json(document)
    else:
        typer.echo(releases_table(document))


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply the database migrations."""
    with _service(ctx, migrate=True):
        pass
    typer.echo("database is at the newest revision")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
