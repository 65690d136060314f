"""The vendor's rules as config: the maintenance policy and the compatibility facts.

Versions, Runtimes and specifiers are parsed once, at load (``config.types``); ``to_policy``
and ``to_value`` only assemble the pure values the checks take.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from supportwatch.compatibility import ChartUpgrade, CompatRule, Incompatibility
from supportwatch.config.types import ConfigModel, Runtime, Semver, Specifiers
from supportwatch.policy import MaintenancePolicy
from supportwatch.versions import AgentVersion

MAX_REMINDER_DAYS = 3660


class PolicySettings(ConfigModel):
    id: str = "agent-maintenance-policy"
    wording: str = (
        "Each Remote Execution Agent minor version is maintained for 6 months from its initial .0 release."
    )
    maintenance_months: int = Field(default=6, ge=1, le=120)
    latest_minor_supported: bool = True
    behind_grace_days: int = Field(default=7, ge=0, le=365)
    reminder_days: list[int] = Field(default_factory=lambda: [60, 30, 14, 7, 1], max_length=100)

    @field_validator("reminder_days")
    @classmethod
    def _rungs(cls, value: list[int]) -> list[int]:
        if any(rung <= 0 for rung in value):
            raise ValueError(f"{value!r} has a rung <= 0; reminder days are positive day counts")
        if any(rung > MAX_REMINDER_DAYS for rung in value):
            raise ValueError(
                f"{value!r} has a rung over {MAX_REMINDER_DAYS}; reminder days are at most "
                f"{MAX_REMINDER_DAYS} (10 years)"
            )
        if len(set(value)) != len(value):
            raise ValueError(f"{value!r} repeats a rung; list each day count once")
        return sorted(value, reverse=True)

    def to_policy(self) -> MaintenancePolicy:
        return MaintenancePolicy(
            id=self.id,
            wording=self.wording,
            maintenance_months=self.maintenance_months,
            latest_minor_supported=self.latest_minor_supported,
            behind_grace_days=self.behind_grace_days,
            reminder_days=tuple(self.reminder_days),
        )


class CompatibilityRule(ConfigModel):
    """Charts matching ``chart`` support agents matching any of ``agent`` (PEP 440 specifiers)."""

    chart: Specifiers
    agent: list[Specifiers] = Field(min_length=1)

    def to_value(self) -> CompatRule:
        return CompatRule(self.chart, tuple(self.agent))


class KnownIncompatibility(ConfigModel):
    """A bad pair of execution and orchestration Runtimes, optionally only for ``agent`` versions."""

    execution_runtime: Runtime
    orchestration_runtime: Runtime
    agent: Specifiers | None = None
    note: str = ""

    def to_value(self) -> Incompatibility:
        return Incompatibility(
            self.execution_runtime, self.orchestration_runtime, self.agent or None, self.note
        )


class ChartUpgradeSettings(ConfigModel):
    """Upgrading to chart ``to`` (or later) from an older major is breaking; ``steps`` say how."""

    to: Semver
    steps: list[str] = Field(min_length=1)

    def to_value(self) -> ChartUpgrade:
        return ChartUpgrade(self.to, tuple(self.steps))


DEFAULT_CHART_UPGRADES = [
    # The vendor's chart 1.x -> 2.x steps in full; {namespace}, {release}, {version} and {chart}
    # are filled in from the deployment and its target.
    ChartUpgradeSettings(
        to=AgentVersion(2, 0, 0),
        steps=[
            "Update values.yaml to the v2 format: download the latest values.yaml from the Astro UI, "
            "note that sentinel.enabled now defaults to true, and remove every `key: ~` (v2 refuses "
            "nullable keys)",
            "Delete the worker Deployments: `kubectl delete deployment -l component=worker -n {namespace}` "
            "(worker pods stop briefly; dag processing and the triggerer are unaffected)",
            "Delete the worker Services: `kubectl delete svc -l component=worker -n {namespace}`",
            "Upgrade the release: `helm repo update`, then `helm upgrade {release} {chart} --version "
            "{version} --namespace {namespace} --values values.yaml`",
        ],
    )
]
