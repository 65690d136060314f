"""The ``supportwatch`` command (DESIGN §7).

Exit codes: 0 ok; 1 findings at or above ``--fail-on`` or a failed poll/send; 2 usage or
config error (the message names the key path and the bad value).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, NoReturn
from urllib.parse import quote
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from supportwatch.checks import DeploymentReport, worst
from supportwatch.config import (
    Settings,
    hide_database_password,
    load_settings,
    redact_url,
    render_database_url,
)
from supportwatch.errors import ConfigError, SchedulerLocked, StoreError
from supportwatch.logs import configure as configure_logging
from supportwatch.report import (
    check_document,
    check_json_chunks,
    check_table,
    poll_table,
    releases_document,
    releases_table,
)
from supportwatch.service import Service, UnknownTeam
from supportwatch.tokens import TokenExists
from supportwatch.values import Finding, Severity, clean_text
from supportwatch.wording import count

if TYPE_CHECKING:
    from supportwatch.notify.delivery import DeliveryReport

DEFAULT_CONFIG = "config/supportwatch.yaml"
# the width of the ack table's dedup_key and note columns (tables.ack_table: VARCHAR(512))
ACK_TEXT_MAX = 512

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
        settings = load_settings(path)
    except ConfigError as exc:
        # an error in the config file's own deployments names that file: said once
        _fail(f"config {path}: {str(exc).removeprefix(f'{Path(path).name}: ')}")
    # The settings live as long as the process: keep the cyclic collector from re-scanning them
    # (and the modules) on every collection; for a large fleet that scanning cost a fifth of `check`.
    gc.freeze()
    return settings


def _sqlite_folder(database_url: str) -> None:
    """Create a SQLite database's folder now, so that a path that cannot be one is a clear exit 2."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    folder = Path(url.database).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as exc:
        reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
        _fail(
            f"database_url: cannot create the folder {str(folder)!r} for the SQLite database ({reason}); "
            "point database_url at a writable folder, e.g. sqlite:///var/supportwatch.db"
        )


def _evaluated(settings: Settings, now: datetime) -> tuple[list[DeploymentReport], list[Finding]]:
    """Every deployment's report and the data-health findings as of ``now``."""
    with _service(settings) as service:
        return service.evaluate(now), service.health_findings(now)


@contextmanager
def _service(settings: Settings, *, migrate: bool | None = None) -> Iterator[Service]:
    """The service for one command; database failures become a clear exit-2 error."""
    _sqlite_folder(settings.database_url)
    try:
        service = Service.open(settings, migrate=migrate)
        try:
            service.apply_static(datetime.now(UTC))
            yield service
        finally:
            service.close()
    except StoreError as exc:
        _fail(str(exc))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        reason = hide_database_password(reason, settings.database_url)
        _fail(
            f"cannot open the database {render_database_url(settings.database_url)}: {redact_url(reason)}; "
            "check database_url and that the server is reachable"
        )


# --at evaluates as of a moment in this range: reminders, grace periods and digest weeks count
# days from it, and must not step outside the dates Python can hold
AT_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
AT_LATEST = datetime(9000, 12, 31, 23, 59, 59, tzinfo=UTC)


def parse_at(
    text: str | None, tz: ZoneInfo, *, now: datetime | None = None, option: str = "--at"
) -> datetime:
    """``--at``: an ISO date (that day's start in ``tz``) or datetime (naive means ``tz``).

    ``option`` names the option in error messages; ``--at`` must lie in AT_EARLIEST..AT_LATEST.
    """
    if text is None:
        return now or datetime.now(UTC)
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), time(0, 0), tzinfo=tz)
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        _fail(
            f"{option} {text!r} is not an ISO date or datetime; "
            "expected e.g. 2026-11-24 or 2026-11-24T09:00:00+00:00"
        )
    try:
        result = (moment if moment.tzinfo else moment.replace(tzinfo=tz)).astimezone(UTC)
    except (OverflowError, ValueError):
        # 9999-12-31T23:59:59-05:00 is in year 10000 in UTC; 0001-01-01T00:00:00+05:00 in year 0
        _fail(
            f"{option} {text!r} is out of range: in UTC it falls outside the years 1 to 9999; "
            "give a date between 1970-01-01 and 9000-12-31"
        )
    if option == "--at" and not AT_EARLIEST <= result <= AT_LATEST:
        _fail(f"{option} {text!r} is out of range; give a date between 1970-01-01 and 9000-12-31")
    return result


AtOption = Annotated[str | None, typer.Option("--at", help="Evaluate as of this ISO date or datetime.")]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table for people, json for scripts.")]


def _print_json(document: dict[str, Any]) -> None:
    # indented for a person at a terminal, compact for the scripts that read it from a pipe
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(document, indent=indent, ensure_ascii=False) + "\n")


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
    reports, health = _evaluated(settings, now)
    if not reports:  # a gate that checks nothing must not look like one that passed
        typer.echo(
            "note: no deployments are tracked: add deployments: or deployments_file: to the config",
            err=True,
        )
    if output is OutputFormat.JSON and sys.stdout.isatty():
        _print_json(check_document(reports, now, health))
    elif output is OutputFormat.JSON:
        sys.stdout.writelines(check_json_chunks(reports, now, health))
        sys.stdout.write("\n")
    else:
        typer.echo(check_table(reports, health))
    found = max(
        [item for item in [worst(reports), *(finding.severity for finding in health)] if item is not None],
        key=lambda severity: severity.rank,
        default=None,
    )
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
    with _service(settings) as service:
        catalog = service.catalog(now)
        document = releases_document(service.releases(), catalog, component.value if component else None)
    if output is OutputFormat.JSON:
        _print_json(document)
    else:
        typer.echo(releases_table(document))


DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Print what would be sent; send nothing.")]


def _report_delivery(report: DeliveryReport, *, dry_run: bool) -> None:
    """Print a delivery run's outcome; exit 1 when a send failed (retry scheduled or dead-lettered)."""
    if dry_run:
        for target, text in report.preview:
            typer.echo(f"--- would send to {target} ---\n{text}\n")
        typer.echo(f"dry run: {count(len(report.preview), 'message')} would be sent")
        return
    typer.echo(f"sent {count(report.sent_messages, 'message')} covering {count(report.sent_keys, 'notice')}")
    for line in report.failures:
        typer.echo(f"failed, will retry: {line}", err=True)
    for line in report.dead:
        typer.echo(f"failed for good (dead-lettered): {line}", err=True)
    for line in report.warnings:
        typer.echo(f"sent, but not to everyone: {line}", err=True)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def notify(ctx: typer.Context, at: AtOption = None, dry_run: DryRunOption = False) -> None:
    """Evaluate the deployments and deliver what is due, once."""
    settings = _settings(ctx)
    now = parse_at(at, settings.tz)
    with _service(settings) as service:
        report = service.notify(now, dry_run=dry_run)
    _report_delivery(report, dry_run=dry_run)


@app.command()
def digest(
    ctx: typer.Context,
    at: AtOption = None,
    receiver: Annotated[str | None, typer.Option("--receiver", help="Only this receiver.")] = None,
    dry_run: DryRunOption = False,
) -> None:
    """Send the weekly digest for the week of --at (default: now), once per receiver."""
    settings = _settings(ctx)
    now = parse_at(at, settings.tz)
    with _service(settings) as service:
        try:
            report = service.digest(now, receiver=receiver, dry_run=dry_run)
        except ConfigError as exc:
            _fail(str(exc))
    _report_delivery(report, dry_run=dry_run)


def _until(text: str | None, tz: ZoneInfo, *, now: datetime) -> datetime | None:
    """``--until`` as an aware moment; one already past would save an ack that mutes nothing."""
    if text is None:
        return None
    try:
        datetime.fromisoformat(text)
    except ValueError:
        _fail(f"--until {text!r} is not an ISO date or datetime; expected e.g. 2026-12-01")
    moment = parse_at(text, tz, option="--until")
    if moment <= now:
        local = now.astimezone(tz).isoformat(timespec="minutes")
        _fail(
            f"--until {text!r} is already past (it is now {local}); "
            "give a later date, or leave --until out to silence until the facts change"
        )
    return moment


@app.command()
def ack(
    ctx: typer.Context,
    dedup_key: Annotated[str, typer.Argument(help="The finding's dedup_key (see `check --format json`).")],
    until: Annotated[
        str | None,
        typer.Option("--until", help="Silence until this ISO date (default: until the facts change)."),
    ] = None,
    note: Annotated[str, typer.Option("--note", help="Why, for the next person.")] = "",
) -> None:
    """Silence a finding until a date, or until its facts change (a new release or rung)."""
    # the columns hold ACK_TEXT_MAX characters; PostgreSQL refuses longer text, SQLite would keep it
    if len(dedup_key) > ACK_TEXT_MAX:
        _fail(
            f"DEDUP_KEY is {len(dedup_key)} characters; the limit is {ACK_TEXT_MAX}: copy the finding's "
            "dedup_key from `supportwatch check --format json`"
        )
    if len(note) > ACK_TEXT_MAX:
        _fail(f"--note is {len(note)} characters; the limit is {ACK_TEXT_MAX}: shorten the note")
    note = clean_text(note)  # `acks` prints it: no terminal escapes
    settings = _settings(ctx)
    now = datetime.now(UTC)
    moment = _until(until, settings.tz, now=now)
    with _service(settings) as service:
        saved = service.ack(dedup_key, until=moment, now=now, note=note)
        current = {f.dedup_key for r in service.evaluate(now) for f in r.findings}
        current |= {finding.dedup_key for finding in service.health_findings(now)}
    when = f"until {saved.until.isoformat()}" if saved.until else "until its facts change"
    typer.echo(f"acknowledged {saved.dedup_key} {when}")
    if saved.dedup_key not in current:  # kept: it silences the finding should it appear
        typer.echo(
            "note: no current finding has this dedup_key; check its spelling against "
            "`supportwatch check --format json`",
            err=True,
        )


@app.command()
def redrive(
    ctx: typer.Context,
    target: Annotated[
        str | None, typer.Option("--target", help="Only this target, e.g. data-platform/slack.")
    ] = None,
    key: Annotated[str | None, typer.Option("--key", help="Only this delivery key.")] = None,
) -> None:
    """Re-queue dead letters once their cause is fixed; the next notify run sends them."""
    settings = _settings(ctx)
    with _service(settings) as service:
        requeued = service.redrive(datetime.now(UTC), target=target, key=key)
    typer.echo(
        f"re-queued {count(requeued, 'dead letter')}"
        + ("; run `supportwatch notify` to send them" if requeued else "")
    )


@app.command("acks")
def list_acks(ctx: typer.Context) -> None:
    """List acknowledged findings."""
    now = datetime.now(UTC)
    with _service(_settings(ctx)) as service:
        saved = service.acks()
    if not saved:
        typer.echo("no acknowledged findings")
        return
    for item in saved:
        until = item.until.isoformat() if item.until else "facts change"
        state = "active" if item.active(now) else "expired"
        typer.echo(f"{item.dedup_key}  until {until}  ({state}){'  ' + item.note if item.note else ''}")


@app.command()
def poll(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option("--source", help="Poll only the source of this name.")] = None,
    accept_shrink: Annotated[
        bool,
        typer.Option(
            "--accept-shrink",
            help="Take an answer that lost over half of its versions as the new baseline (needs --source).",
        ),
    ] = False,
) -> None:
    """Poll the release sources once; exit 1 if any failed."""
    settings = _settings(ctx)
    if accept_shrink and source is None:
        _fail("--accept-shrink needs --source NAME: accept a smaller answer from one source at a time")
    now = datetime.now(UTC)
    with _service(settings) as service:
        try:
            outcomes = service.poll(now, only=source, accept_shrink=accept_shrink)
        except ConfigError as exc:
            _fail(str(exc))
    typer.echo(poll_table(outcomes))
    if any(outcome.failed for outcome in outcomes):
        raise typer.Exit(1)


@app.command()
def preview(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", help="Write the files into this folder.")],
    at: AtOption = None,
    receiver: Annotated[str | None, typer.Option("--receiver", help="Only this receiver.")] = None,
    digest_: Annotated[
        bool, typer.Option("--digest", help="The week's digest instead of the notices.")
    ] = False,
) -> None:
    """Write what a first run would send (Slack JSON, .eml and .html, console text); send nothing."""
    from supportwatch.notify.preview import write_preview  # noqa: PLC0415 - the notifiers' renderers

    settings = _settings(ctx)
    now = parse_at(at, settings.tz)
    reports, health = _evaluated(settings, now)
    try:
        written = write_preview(
            settings, reports, health, now=now, output=output, receiver=receiver, digest=digest_
        )
    except ConfigError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(
            f"--output {str(output)!r}: cannot write the preview: {exc.strerror or exc}; "
            "choose a writable folder"
        )
    for path in written:
        typer.echo(str(path))
    typer.echo(f"wrote {count(len(written), 'file')} to {output}" if written else "nothing would be sent")


@app.command("calendar")
def calendar_feed(
    ctx: typer.Context,
    team: Annotated[str | None, typer.Option("--team", help="Only the minors this team runs.")] = None,
    output: Annotated[str | None, typer.Option("--output", help="Write the feed to this file.")] = None,
) -> None:
    """Write the ICS feed: each agent minor's maintenance window and its end, with reminders."""
    settings = _settings(ctx)
    now = datetime.now(UTC)
    with _service(settings) as service:
        try:
            body = service.calendar(now, team)
        except UnknownTeam as exc:
            _fail(f"--{exc}")
    if output is None:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return
    try:
        with open(output, "wb") as handle:
            handle.write(body)
    except OSError as exc:
        _fail(f"--output {output!r}: cannot write the calendar: {exc.strerror}; choose a writable path")


@app.command()
def run(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option("--host", help="Listen here (default: web.host).")] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=0, max=65535, help="Listen on this port (default: web.port).")
    ] = None,
    migrate: Annotated[
        bool,
        typer.Option(
            "--migrate",
            help="Apply the database migrations first, under the lock `db upgrade` takes "
            "(SQLite databases are always migrated).",
        ),
    ] = False,
) -> None:
    """The service: scheduler and HTTP until SIGTERM/SIGINT (then exit 0)."""
    settings = _settings(ctx)
    _serve(
        settings,
        host=host if host is not None else settings.web.host,
        port=port if port is not None else settings.web.port,
        migrate=migrate,
    )


def _serve(settings: Settings, *, host: str, port: int, migrate: bool = False) -> None:
    """``daemon.serve`` with the settings' logging, its lines on stdout and its errors as exit 2."""
    from supportwatch.daemon import serve  # noqa: PLC0415 - the web stack is for `run` only

    _sqlite_folder(settings.database_url)
    configure_logging(settings.log.format, settings.log.level)
    try:
        serve(settings, host=host, port=port, migrate=migrate, announce=typer.echo)
    except (ConfigError, SchedulerLocked, StoreError) as exc:
        _fail(str(exc))


@app.command()
def demo(
    port: Annotated[
        int,
        typer.Option("--port", min=0, max=65535, help="Serve the dashboard on this port (0: any free one)."),
    ] = 8080,
) -> None:
    """The service on example data, offline: a loopback vendor and mail sink in a temporary folder.

    Every finding kind shows within seconds; SIGTERM or Ctrl-C stops it all and removes the folder.
    """
    from supportwatch.demo.runner import start_demo  # noqa: PLC0415 - only `demo` needs it

    port = port or _free_port()
    with tempfile.TemporaryDirectory(prefix="supportwatch-demo-") as folder, _exit_on_stop_signals():
        try:
            running = start_demo(Path(folder), today=datetime.now(UTC).date(), web_port=port)
        except (ConfigError, OSError) as exc:
            _fail(f"cannot start the demo: {exc}")
        with running:
            typer.echo(running.describe())
            # the mail sink (aiosmtpd) logs every SMTP command at INFO; the mailbox shows what came
            logging.getLogger("mail.log").setLevel(logging.WARNING)
            try:
                settings = load_settings(running.config_path)
            except ConfigError as exc:
                _fail(f"config {running.config_path}: {exc}")
            _serve(settings, host=settings.web.host, port=settings.web.port)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Stopped(Exception):
    """SIGTERM or SIGINT while the demo starts: stop what started, then exit 0."""


@contextmanager
def _exit_on_stop_signals() -> Iterator[None]:
    """A stop signal ends the demo cleanly (exit 0) while ``serve`` does not handle it itself
    (starting up, shutting down); ``serve`` restores this handler when it returns."""

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise _Stopped

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    except _Stopped:
        raise typer.Exit(0) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@app.command("calendar-token")
def calendar_token(
    ctx: typer.Context,
    team: Annotated[str, typer.Argument(help="The team whose calendar feed the token opens.")],
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Replace the team's token; feeds on the old one stop updating.")
    ] = False,
) -> None:
    """Issue (or rotate) a team's calendar feed token and print its subscribe URLs, once."""
    settings = _settings(ctx)
    with _service(settings) as service:
        try:
            token = service.issue_calendar_token(team, datetime.now(UTC), rotate=rotate)
        except UnknownTeam as exc:
            _fail(str(exc))
        except TokenExists as exc:
            _fail(str(exc))
    base = _public_base(settings)
    path = f"/calendar/{quote(team, safe='')}.ics?token={token}"
    typer.echo(f"calendar feed token for team {team} (shown once: only its hash is kept)")
    typer.echo(f"  subscribe: {base.replace('https://', 'webcal://').replace('http://', 'webcal://')}{path}")
    typer.echo(f"  download:  {base}{path}")
    if settings.web.public_url is None:
        typer.echo(
            "note: web.public_url is not set, so these URLs name web.host and web.port; set it to the "
            "address your team reaches (https://...)",
            err=True,
        )
    if settings.web.calendar_tokens == "off":
        typer.echo(
            "note: web.calendar_tokens is off: the feed is served without a token; set it to optional "
            "or required for the token to count",
            err=True,
        )


def _public_base(settings: Settings) -> str:
    """``web.public_url`` without a trailing slash, else ``http://web.host:web.port``."""
    if settings.web.public_url is not None:
        return str(settings.web.public_url).rstrip("/")
    host = settings.web.host
    return f"http://[{host}]:{settings.web.port}" if ":" in host else f"http://{host}:{settings.web.port}"


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply the database migrations."""
    with _service(_settings(ctx), migrate=True):
        pass
    typer.echo("database is at the newest revision")


# Optional imports of libraries this process loads that no command uses, 5 MiB resident in a
# long-lived `run`: httpx imports its command-line client (rich, pygments, click) whenever they
# are installed (typer brings rich), FastAPI imports pydantic's v1 layer to ask whether a route's
# models are v1 ones (none are). A None entry in sys.modules fails such an import the way each
# library expects when the module is absent.
UNUSED_OPTIONAL_MODULES = ("httpx._main", "pydantic.v1")


def main() -> None:
    """Console-script entry point."""
    for module in UNUSED_OPTIONAL_MODULES:
        sys.modules.setdefault(module, None)  # type: ignore[arg-type]
    app()


if __name__ == "__main__":
    main()
