"""The vendor's compatibility facts as data: chart <-> agent matrix, bad Runtime pairs — pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from supportwatch.versions import AgentVersion, RuntimeVersion


@dataclass(frozen=True, slots=True)
class CompatRule:
    """Charts in ``chart`` support agents in any of ``agents`` (PEP 440 specifiers)."""

    chart: SpecifierSet
    agents: tuple[SpecifierSet, ...]


@dataclass(frozen=True, slots=True)
class Incompatibility:
    """A known bad pair of execution and orchestration Runtimes (optionally for some agents)."""

    execution_runtime: RuntimeVersion
    orchestration_runtime: RuntimeVersion
    agent: SpecifierSet | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class ChartUpgrade:
    """Moving from a chart below ``to`` up to ``to`` or later is breaking; ``steps`` say how."""

    to: AgentVersion
    steps: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Rules:
    """The compatibility facts, as configured."""

    compatibility: tuple[CompatRule, ...] = ()
    incompatibilities: tuple[Incompatibility, ...] = ()
    chart_upgrades: tuple[ChartUpgrade, ...] = ()
    # a fleet asks the same questions thousands of times: memoise per chart and per agent
    _rows: dict[AgentVersion, tuple[int, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    _allows: dict[tuple[int, AgentVersion], bool] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    _admits: dict[tuple[tuple[int, ...], AgentVersion], bool | None] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )


@lru_cache(maxsize=8192)
def pep440(version: AgentVersion) -> Version:
    """A semver version as a PEP 440 one, for specifier matching."""
    try:
        return Version(str(version))
    except InvalidVersion:
        # semver pre-release labels PEP 440 cannot spell still sort before the release
        return Version(f"{version.major}.{version.minor}.{version.patch}.dev0")


def chart_rows(rules: Rules, chart: AgentVersion) -> tuple[int, ...]:
    """The indexes of the matrix rows that cover ``chart`` (charts with equal rows behave alike)."""
    rows = rules._rows.get(chart)
    if rows is None:
        chart_v = pep440(chart)
        rows = rules._rows[chart] = tuple(
            index
            for index, rule in enumerate(rules.compatibility)
            if rule.chart.contains(chart_v, prereleases=True)
        )
    return rows


def rows_admit(rules: Rules, rows: tuple[int, ...], agent: AgentVersion) -> bool | None:
    """What ``chart_admits`` answers for a chart covered by ``rows``."""
    key = (rows, agent)
    if key not in rules._admits:
        rules._admits[key] = any(_row_allows(rules, index, agent) for index in rows) if rows else None
    return rules._admits[key]


def chart_admits(rules: Rules, chart: AgentVersion, agent: AgentVersion) -> bool | None:
    """True/False per the matrix; None when no matrix row covers ``chart``."""
    return rows_admit(rules, chart_rows(rules, chart), agent)


def _row_allows(rules: Rules, index: int, agent: AgentVersion) -> bool:
    key = (index, agent)
    allowed = rules._allows.get(key)
    if allowed is None:
        agent_v = pep440(agent)
        allowed = rules._allows[key] = any(
            spec.contains(agent_v, prereleases=True) for spec in rules.compatibility[index].agents
        )
    return allowed


def agents_for(rules: Rules, chart: AgentVersion) -> list[str]:
    """The agent specifiers the matrix allows for ``chart``."""
    chart_v = pep440(chart)
    return [
        str(spec)
        for rule in rules.compatibility
        if rule.chart.contains(chart_v, prereleases=True)
        for spec in rule.agents
    ]


def incompatible(
    rules: Rules,
    execution: RuntimeVersion,
    orchestration: RuntimeVersion,
    agent: AgentVersion | None,
) -> Incompatibility | None:
    """The listed bad combination these versions form, if any."""
    for bad in rules.incompatibilities:
        if bad.execution_runtime != execution or bad.orchestration_runtime != orchestration:
            continue
        if bad.agent is not None and (
            agent is None or not bad.agent.contains(pep440(agent), prereleases=True)
        ):
            continue
        return bad
    return None
