"""Messages as plain text — pure: the console's output, the email's text part, Slack's fallback.

The text says everything the HTML email and the Slack blocks say (grouped by ``layout``): the
overview, data health, the fleet-wide facts, then each deployment with its state, end of
maintenance, notices, fix, target and every step of its plan, and its dashboard page.
"""

from __future__ import annotations

from supportwatch.notify.digest import digest_lines
from supportwatch.notify.layout import DeploymentGroup, FleetFact, layout
from supportwatch.notify.message import Message, Notice


def plain_text(message: Message) -> str:
    """The message as plain text: the console output and the email's text part."""
    if message.digest is not None:
        return "\n".join(digest_lines(message.digest))
    return "\n".join(notice_lines(message))


def notice_lines(message: Message) -> list[str]:
    shaped = layout(message.notices)
    lines = [opening(message)]
    if shaped.health:
        lines += ["", "Data health:"]
        for notice in shaped.health:
            lines += _notice(notice, indent="  ", fix=notice.remedy if notice.status == "firing" else None)
    if shaped.fleet:
        lines += ["", "Across the fleet:"]
        for fact in shaped.fleet:
            lines += _fact(fact)
    for group in shaped.deployments:
        lines += ["", *_group(group)]
    return lines


def opening(message: Message) -> str:
    """The first line: what the message (or, on a run's first part, the run) holds."""
    part = f" (message {message.part} of {message.parts})" if message.parts > 1 else ""
    reply = "follow-up " if message.thread else ""
    return f"supportwatch {reply}for {message.receiver}{part}: {message.summary.text()}"


def heading(group: DeploymentGroup) -> str:
    """``prod-east (data-platform): behind (warning); end of maintenance 2026-07-28 (in 29 days)``."""
    text = f"{group.name} ({group.team})"
    text += f": {group.state}" if group.state else ""
    return text + (f"; end of maintenance {group.when}" if group.when else "")


def _notice(notice: Notice, *, indent: str, fix: str | None) -> list[str]:
    lines = [f"{indent}{notice.title}", f"{indent}  {notice.summary}"]
    return lines + ([f"{indent}  Fix: {fix}"] if fix else [])


def _fact(fact: FleetFact) -> list[str]:
    names = fact.names
    lines = [f"  {fact.severity.upper() if fact.status == 'firing' else 'RESOLVED'}: {fact.headline}"]
    lines.append(f"    {len(names)} deployments: {', '.join(names)}")
    return lines + ([f"    Fix: {fact.remedy}"] if fact.remedy else [])


def _group(group: DeploymentGroup) -> list[str]:
    lines = [heading(group)]
    if group.url:
        lines.append(f"  {group.url}")
    for notice in group.notices:
        lines += _notice(notice, indent="  ", fix=group.own_fix(notice))
    if group.fix:
        lines.append(f"  Fix: {group.fix}")
    if group.target:
        lines.append(f"  Target: {group.target}")
    if group.plan:
        lines.append("  Plan:")
        lines += [f"    {index}. {step}" for index, step in enumerate(group.plan, start=1)]
    return lines
