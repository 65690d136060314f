"""What ``check`` and ``releases`` print: the JSON documents of DESIGN §7 and plain tables — pure."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from supportwatch.catalog import Catalog
from supportwatch.checks import DeploymentReport
from supportwatch.policy import MinorWindow
from supportwatch.remedy import tag_reference
from supportwatch.values import Component, Finding, Release
from supportwatch.versions import AgentVersion, RuntimeVersion, minor_label


class PollLine(Protocol):
    """What ``poll_table`` reads of one source's poll (``sources.poll.PollOutcome``)."""

    @property
    def source(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def new(self) -> int: ...

    @property
    def changed(self) -> int: ...

    @property
    def seen(self) -> int: ...

    @property
    def skipped(self) -> int: ...

    @property
    def error(self) -> str | None: ...


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def check_document(
    reports: Sequence[DeploymentReport], evaluated_at: datetime, data_health: Sequence[Finding] = ()
) -> dict[str, Any]:
    """The ``check --format json`` object; ``data_health`` lists source findings (not per deployment)."""
    return {
        "evaluated_at": evaluated_at.isoformat(),
        "deployments": [_deployment_item(report) for report in reports],
        "data_health": [_health_item(finding) for finding in data_health],
    }


# one encoder for a fleet's thousands of items (json.dumps builds one per call for non-defaults)
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def check_json_chunks(
    reports: Sequence[DeploymentReport], evaluated_at: datetime, data_health: Sequence[Finding] = ()
) -> Iterator[str]:
    """``check_document`` as compact JSON text in pieces, one deployment at a time.

    A fleet's document is tens of megabytes; writing it piecewise keeps it out of memory.
    """
    yield '{"evaluated_at": ' + json.dumps(evaluated_at.isoformat()) + ', "deployments": ['
    for index, report in enumerate(reports):
        yield ("," if index else "") + _COMPACT.encode(_deployment_item(report))
    health = [_health_item(finding) for finding in data_health]
    yield '], "data_health": ' + json.dumps(health, ensure_ascii=False) + "}"


def _deployment_item(report: DeploymentReport) -> dict[str, Any]:
    worst = report.worst_severity
    return {
        "name": report.deployment.name,
        "team": report.deployment.team,
        "state": report.state.value,
        "worst_severity": worst.value if worst else None,
        "agent_version": str(report.agent_version) if report.agent_version else None,
        "end_of_maintenance": _day(report.end_of_maintenance),
        "end_of_maintenance_open": report.open_ended,
        "nominal_end_of_maintenance": _day(report.nominal_end_of_maintenance),
        "days_left": report.days_left,
        "target": target_item(report),
        "plan": plan_items(report),
        "findings": [
            {
                "kind": finding.kind.value,
                "severity": finding.severity.value,
                "dedup_key": finding.dedup_key,
                "summary": finding.summary,
                "remedy": finding.remedy,
            }
            for finding in report.findings
        ],
    }


def plan_items(report: DeploymentReport) -> list[dict[str, str | None]]:
    """The report's plan steps as the JSON document and the pages show them."""
    return [
        {"change": step.change, "text": step.text, "image": step.image, "chart_version": step.chart_version}
        for step in report.plan
    ]


def target_item(report: DeploymentReport) -> dict[str, Any]:
    """``{"image", "chart_version"}`` (null where nothing changes); a blocked target names the
    orchestration Runtime to reach first and leaves ``image`` null; ``note`` says why, if needed."""
    target = report.target
    blocked = target.orchestration is not None
    image = None if target.tag is None or blocked else tag_reference(report.deployment, target.tag)
    return {
        "image": image,
        "chart_version": str(target.chart) if target.chart is not None and not blocked else None,
        "blocked": (
            f"no image clears the findings at or below the orchestration plane's Runtime "
            f"{report.deployment.orchestration_runtime}: upgrade the orchestration plane to "
            f"{target.orchestration} or later first (the plan names the image that then fits)"
            if blocked
            else None
        ),
        "note": target.note,
    }


def target_text(report: DeploymentReport) -> str:
    """The target in one phrase for tables and digests ("" when nothing needs to change)."""
    target = report.target
    if target.orchestration is not None:
        return f"upgrade the orchestration plane to {target.orchestration} or later first"
    parts = [tag_reference(report.deployment, target.tag)] if target.tag is not None else []
    parts += [f"chart {target.chart}"] if target.chart is not None else []
    return ", ".join(parts) or (target.note or "")


def end_text(report: DeploymentReport) -> str:
    """The end of maintenance as every surface prints it: a date, or open with the nominal date."""
    if report.open_ended:
        nominal = _day(report.nominal_end_of_maintenance)
        return f"open: newest minor (nominal {nominal})" if nominal else "open: newest minor"
    return _day(report.end_of_maintenance) or "-"


def state_text(report: DeploymentReport) -> str:
    """The state badge with the worst finding's severity: ``current (warning)``."""
    worst = report.worst_severity
    return f"{report.state.value} ({worst.value})" if worst else report.state.value


def _health_item(finding: Finding) -> dict[str, Any]:
    return {
        "kind": finding.kind.value,
        "severity": finding.severity.value,
        "subject": finding.subject,
        "dedup_key": finding.dedup_key,
        "summary": finding.summary,
        "remedy": finding.remedy,
    }


def health_lines(data_health: Sequence[Finding]) -> list[str]:
    """The data-health part of the ``check`` table (empty when all sources are healthy)."""
    if not data_health:
        return []
    return ["", "DATA HEALTH"] + [
        f"  [{item.severity.value}] {item.kind.value}: {item.summary}\n    fix: {item.remedy}"
        for item in data_health
    ]


def check_table(reports: Sequence[DeploymentReport], data_health: Sequence[Finding] = ()) -> str:
    """A table for people: one line per deployment; then per deployment its findings, target
    and plan; then data health."""
    rows = [("DEPLOYMENT", "TEAM", "STATE", "AGENT", "END OF MAINTENANCE")]
    rows += [
        (
            report.deployment.name,
            report.deployment.team,
            state_text(report),
            str(report.agent_version or "-"),
            end_text(report),
        )
        for report in reports
    ]
    details = [line for report in reports for line in _details(report)]
    return "\n".join(_columns(rows) + (["", *details] if details else []) + health_lines(data_health))


def _details(report: DeploymentReport) -> list[str]:
    name = report.deployment.name
    lines = [
        f"  {name}: [{f.severity.value}] {f.kind.value}: {f.summary}\n    fix: {f.remedy}"
        for f in report.findings
    ]
    if report.plan:
        lines.append(f"  {name}: plan:")
        lines += [f"    {index}. {step.text}" for index, step in enumerate(report.plan, start=1)]
    return lines


def poll_table(outcomes: Sequence[PollLine]) -> str:
    """What ``poll`` prints: per source, what was new, unchanged (304) or failed."""
    if not outcomes:
        return "no sources to poll (static sources are applied on every command)"
    rows = [("SOURCE", "RESULT", "DETAIL")]
    for item in outcomes:
        if item.status == "fetched":
            detail = f"{item.new} new, {item.changed} changed, {item.seen} listed"
            detail += f", {item.skipped} skipped" if item.skipped else ""
        elif item.status == "unchanged":
            detail = f"304 not modified ({item.seen} listed last time)"
        else:
            detail = item.error or ""
        rows.append((item.source, item.status, detail))
    return "\n".join(_columns(rows))


def _sort_key(release: Release) -> tuple[str, Any]:
    try:
        if release.component == "runtime":
            runtime = RuntimeVersion.parse(release.version)
            return (release.component, (0, (runtime.airflow_major, runtime.airflow_minor, runtime.build), ()))
        version = AgentVersion.parse(release.version)
        return (
            release.component,
            (0, (version.major, version.minor, version.patch), version.prerelease),
        )
    except ValueError:
        return (release.component, (1, (), (release.version,)))


def sorted_releases(releases: Sequence[Release], component: Component | None, at: date) -> list[Release]:
    chosen = [
        item
        for item in releases
        if (component is None or item.component == component)
        and (item.released_on is None or item.released_on <= at)
    ]
    return sorted(chosen, key=_sort_key)


def releases_document(
    releases: Sequence[Release], catalog: Catalog, component: Component | None
) -> dict[str, Any]:
    """The ``releases --format json`` object."""
    return {
        "releases": [
            {
                "component": item.component,
                "version": item.version,
                "released_on": _day(item.released_on),
                "app_version": item.app_version,
                "channel": item.channel,
                "yanked": item.yanked,
                "image_tags": list(item.image_tags),
                "sources": list(item.sources),
            }
            for item in sorted_releases(releases, component, catalog.today)
        ],
        "minors": [_minor(key, window, catalog) for key, window in sorted(catalog.windows.items())]
        if component in (None, "agent")
        else [],
    }


def _minor(key: tuple[int, int], window: MinorWindow, catalog: Catalog) -> dict[str, Any]:
    """One agent minor's window as ``check`` reads it on the catalog's day: ``end_of_maintenance``
    is the first unmaintained day (null while the minor is open: the newest stable minor, kept
    maintained), ``nominal_end_of_maintenance`` the policy's date either way."""
    maintenance = catalog.maintenance(key)
    ends_on = maintenance.ends_on if maintenance is not None else window.end_of_maintenance
    return {
        "component": "agent",
        "minor": minor_label(key),
        "released_on": _day(window.released_on),
        "end_of_maintenance": _day(ends_on),
        "end_of_maintenance_open": ends_on is None,
        "nominal_end_of_maintenance": _day(window.end_of_maintenance),
        "estimated": window.estimated,
        "policy": window.policy_id,
    }


def _minor_end(minor: dict[str, Any]) -> str:
    nominal = minor["nominal_end_of_maintenance"]
    if minor["end_of_maintenance_open"]:
        text = f"open (newest minor; nominal {nominal})"
    elif minor["end_of_maintenance"] != nominal:
        text = f"{minor['end_of_maintenance']} (nominal {nominal})"
    else:
        text = nominal
    return text + (" (estimated)" if minor["estimated"] else "")


def releases_table(document: dict[str, Any]) -> str:
    rows = [("COMPONENT", "VERSION", "RELEASED", "APP VERSION", "SOURCES")]
    rows += [
        (
            r["component"],
            r["version"] + (" (yanked)" if r["yanked"] else ""),
            r["released_on"] or "-",
            r["app_version"] or "-",
            ",".join(r["sources"]),
        )
        for r in document["releases"]
    ]
    minors = [("MINOR", "RELEASED", "END OF MAINTENANCE", "POLICY")]
    minors += [
        (
            f"agent {m['minor']}",
            m["released_on"],
            _minor_end(m),
            m["policy"],
        )
        for m in document["minors"]
    ]
    return "\n".join(_columns(rows) + (["", *_columns(minors)] if len(minors) > 1 else []))


def _columns(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
