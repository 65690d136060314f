"""Messages as Slack Block Kit, built with slack_sdk's block models — pure.

A run's notices to one channel are packed into as few messages as Slack takes (``slack_chunks``):
50 blocks, 3,000 characters a section and, undocumented but enforced (``msg_blocks_too_long``),
about 12,000 characters of text in all a message's blocks: we keep ``SLACK_MESSAGE_CHARS`` under
it. The first message opens with the run's overview; each deployment is one section (its state,
end of maintenance, notices, fix and target, its name linking to its dashboard page); a fact the
fleet shares is one section naming the deployments. A digest is a header, a summary section,
what changed, and one section per group of deployments (by state); a digest too big for one
message continues in further ones (``slack_payloads``).

Every piece of untrusted text is escaped (``escape_slack``) and clipped without cutting an
``&amp;``; the only markup is ours (bold, and links to the dashboard).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from supportwatch.notify.digest import STATES, DeploymentLine, Digest, digest_summary, end_phrase
from supportwatch.notify.layout import DeploymentGroup, FleetFact, Layout, layout
from supportwatch.notify.message import Message, Notice, Overview, escape_slack, label
from supportwatch.notify.text import opening
from supportwatch.wording import count

# Slack's documented limits: 50 blocks per message, 3000 characters per section text, 150 per
# header; the top-level text is truncated past 40,000 and should stay under 4,000.
SLACK_MAX_BLOCKS = 50
SLACK_SECTION_CHARS = 3000
SLACK_HEADER_CHARS = 150
SLACK_TEXT_CHARS = 3900
# Slack refuses a message whose blocks hold more than about 13,000 characters in all
# (``msg_blocks_too_long``; observed, not documented; Slack's advice is 12,000 characters of
# text, leaving room for the blocks themselves): our budget, counting some overhead per block
SLACK_MESSAGE_CHARS = 12_000
_BLOCK_OVERHEAD = 30  # counted per block against the budget
_CONTEXT_CHARS = 2000
_LIST_ITEMS = 15  # a digest's lists of changes show this many; the email has them all
_LINKED_NAMES, _NAMES = 1200, 2000  # a section naming deployments alike: links, then names
# a message naming more deployment sections than this says each notice by its kind and facts
DENSE_AFTER = 8

EMOJI = {
    "critical": ":red_circle:",
    "warning": ":large_orange_circle:",
    "info": ":large_blue_circle:",
    "resolved": ":white_check_mark:",
}
_STATE_EMOJI = {
    "unmaintained": ":red_circle:",
    "behind": ":large_orange_circle:",
    "unknown": ":grey_question:",
}
_SUBJECT_WORD = re.compile(r"\b(agent|chart|runtime|platform|tag|rung)-")
# "runs agent 1.6.0; " opens many summaries: a deployment's section says it once
_RUNS = re.compile(r"\Aruns agent [^\s;]+; ")
_RUNS_AGENT = re.compile(r" runs agent ([^\s;,]+)[;,]")


def clip(text: str, limit: int) -> str:
    """Cut escaped Slack text to ``limit`` characters without splitting an ``&amp;``-style escape."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def _clip_escaped(text: str, limit: int) -> str:
    return clip(escape_slack(text), limit)


def _link(url: str | None, text: str) -> str:
    """``*<url|text>*`` (text escaped; a URL is ours, quoted) or ``*text*``."""
    shown = escape_slack(text)
    return f"*<{escape_slack(url)}|{shown}>*" if url else f"*{shown}*"


# --- blocks -------------------------------------------------------------------------------


# Blocks are drafted as plain dicts (cheap to measure while packing), then built with
# slack_sdk's models for the payload (``_built``), which check them on the way.


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": _clip_escaped(text, SLACK_HEADER_CHARS)}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SLACK_SECTION_CHARS)}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, _CONTEXT_CHARS)}]}


def _built(drafts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The drafted blocks as slack_sdk's block models build them."""
    blocks: list[Block] = []
    for draft in drafts:
        if draft["type"] == "header":
            blocks.append(HeaderBlock(text=PlainTextObject(text=draft["text"]["text"])))
        elif draft["type"] == "section":
            blocks.append(SectionBlock(text=MarkdownTextObject(text=draft["text"]["text"])))
        else:
            texts = [MarkdownTextObject(text=item["text"]) for item in draft["elements"]]
            blocks.append(ContextBlock(elements=texts))
    return [block.to_dict() for block in blocks]


def _sections(lines: Sequence[str]) -> list[dict[str, Any]]:
    """Lines (escaped mrkdwn) packed into as few sections as the section limit allows."""
    texts: list[str] = []
    for line in lines:
        text = clip(line, SLACK_SECTION_CHARS)
        if texts and len(texts[-1]) + 1 + len(text) <= SLACK_SECTION_CHARS:
            texts[-1] += "\n" + text
        else:
            texts.append(text)
    return [_section(text) for text in texts]


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                yield item
            else:
                yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def size(blocks: Sequence[dict[str, Any]]) -> int:
    """What ``blocks`` count against ``SLACK_MESSAGE_CHARS``: their text, and a little per block."""
    return sum(len(text) for text in _texts(list(blocks))) + _BLOCK_OVERHEAD * len(blocks)


def validate(payload: dict[str, Any]) -> None:
    """Raise ``SlackObjectFormationError`` unless every block is one slack_sdk's models accept."""
    for data in payload["blocks"]:
        block = Block.parse(data)
        if block is None:
            raise ValueError(f"not a Block Kit block: {data.get('type')!r}")
        block.validate_json()


# --- notices ------------------------------------------------------------------------------


def _opening(message: Message) -> list[dict[str, Any]]:
    noun = "follow-up" if message.thread else "notice"
    title = f"supportwatch: {count(len(message.notices), noun)} for {message.receiver}"
    title += f" ({message.part}/{message.parts})" if message.parts > 1 else ""
    blocks = [_header(title)]
    if message.part == 1:
        blocks.append(_section(_overview(message.summary)))
    else:
        blocks.append(_context(f"Continued: message {message.part} of {message.parts} of this run."))
    return blocks


def _overview(overview: Overview) -> str:
    parts = [f"*{count(overview.deployments, 'deployment')} affected*"] if overview.deployments else []
    parts += [f"*{count(overview.health, 'data-health notice')}*"] if overview.health else []
    for name, number in (
        ("critical", overview.critical),
        ("warning", overview.warning),
        ("info", overview.info),
        ("resolved", overview.resolved),
    ):
        if number:
            parts.append(f"{EMOJI[name]} {number} {name}")
    return " · ".join(parts) or "nothing to report"


def _without_name(notice: Notice) -> str:
    """The summary without what the section's first line already says: the deployment's name
    and the agent it runs."""
    text = notice.summary
    for lead in (f"{notice.deployment} ", f"{notice.deployment}: "):
        if notice.deployment and text.startswith(lead):
            text = text[len(lead) :]
            break
    return _RUNS.sub("", text, count=1)


def _agent(notices: Sequence[Notice]) -> str | None:
    """The agent version the deployment's summaries say it runs."""
    for notice in notices:
        found = _RUNS_AGENT.search(notice.summary)
        if found:
            return found.group(1)
    return None


def _notice_line(notice: Notice, fix: str | None) -> str:
    if notice.status == "resolved":
        text = f"{EMOJI['resolved']} *Resolved: {escape_slack(label(notice.kind))}*: "
    else:
        again = f" (reminder {notice.repeat})" if notice.repeat else ""
        text = f"{EMOJI.get(notice.severity, '')} *{escape_slack(label(notice.kind))}{again}*: "
    text += escape_slack(_without_name(notice))
    return text + (f"\n        _Fix:_ {escape_slack(fix)}" if fix else "")


def _facts(subject: str) -> str:
    """A finding's facts from its subject: "chart-1.5.0:agent-1.6.0" -> "chart 1.5.0, agent 1.6.0"."""
    text = _SUBJECT_WORD.sub(r"\1 ", subject)
    return text.replace("->", " → ").replace(">", " > ").replace("+", " + ").replace(":", ", ")


def _dense_line(notice: Notice) -> str:
    """A notice as its kind and facts (a message naming many deployments; each page says more)."""
    facts = f" ({escape_slack(_facts(notice.subject))})" if notice.subject else ""
    again = f", reminder {notice.repeat}" if notice.repeat else ""
    if notice.status == "resolved":
        return f"{EMOJI['resolved']} Resolved: {escape_slack(label(notice.kind))}{facts}"
    return f"{EMOJI.get(notice.severity, '')} {escape_slack(label(notice.kind))}{facts}{again}"


def _health_blocks(notice: Notice) -> list[dict[str, Any]]:
    mark = EMOJI["resolved"] if notice.status == "resolved" else EMOJI.get(notice.severity, "")
    what = "Resolved: " if notice.status == "resolved" else ""
    subject = f" ({escape_slack(notice.subject)})" if notice.subject else ""
    lines = [f"{mark} *Data health: {what}{escape_slack(label(notice.kind))}*{subject}"]
    lines.append(escape_slack(notice.summary))
    if notice.status == "firing" and notice.remedy:
        lines.append(f"*Fix:* {escape_slack(notice.remedy)}")
    return [_section(clip("\n".join(lines), SLACK_SECTION_CHARS))]


def _fact_blocks(fact: FleetFact) -> list[dict[str, Any]]:
    mark = EMOJI["resolved"] if fact.status == "resolved" else EMOJI.get(fact.severity, "")
    names = fact.names
    head = f"{mark} *{escape_slack(fact.headline)}* · {count(len(names), 'deployment')}: "
    fix = f"\n*Fix:* {escape_slack(fact.remedy)}" if fact.remedy else ""
    room = SLACK_SECTION_CHARS - len(head) - len(clip(fix, 1000)) - 40
    listed: list[str] = []
    used = 0
    for index, name in enumerate(names):
        shown = escape_slack(name)
        if used + len(shown) + 2 > room:
            listed.append(f"… and {len(names) - index} more")
            break
        listed.append(shown)
        used += len(shown) + 2
    return [_section(head + ", ".join(listed) + clip(fix, 1000))]


def _group_lines(group: DeploymentGroup, *, dense: bool = False) -> tuple[str, list[str]]:
    """What follows the name on a deployment's first line (agent, state, end), and its other
    lines: each notice, then the plan to its target in one line (the dashboard has each step).

    ``dense``: each notice as its kind and facts, without its own fix."""
    agent = _agent(group.notices)
    rest = f" · agent {escape_slack(agent)}" if agent else ""
    state = (group.state or "").partition(" (")[0]  # the emoji already says the worst severity
    rest += f" · {escape_slack(state)}" if state else ""
    ended = "ended" if group.when.endswith(" ago)") else "ends"
    rest += f" · {ended} {escape_slack(group.when)}" if group.when else ""
    if dense:
        lines = [_dense_line(notice) for notice in group.notices]
    else:
        lines = [_notice_line(notice, group.own_fix(notice)) for notice in group.notices]
    if group.fix and group.plan:
        # the plan's one line names the target where it ends
        lines.append(f"*Target in {count(len(group.plan), 'step')}:* {escape_slack(group.fix)}")
    elif group.fix:
        lines.append(f"*Fix:* {escape_slack(group.fix)}")
    if group.target and not group.plan:
        lines.append(f"*Target:* {escape_slack(group.target)}")
    return rest, lines


def _alike(groups: Sequence[DeploymentGroup]) -> list[list[DeploymentGroup]]:
    """Deployments whose sections would say the same but for the name, together (in order):
    a fleet of identical deployments is one section naming them all."""
    clusters: dict[tuple[str, str, tuple[str, ...]], list[DeploymentGroup]] = {}
    for group in groups:
        rest, lines = _group_lines(group)
        clusters.setdefault((group.worst, rest, tuple(lines)), []).append(group)
    return list(clusters.values())


def _names(groups: Sequence[DeploymentGroup]) -> str:
    """The deployments' names, linked to their pages while there is room, then plain, then a count."""
    shown: list[str] = []
    used = 0
    for index, group in enumerate(groups):
        linked = _link(group.url, group.name)
        plain = f"*{escape_slack(group.name)}*"
        text = linked if used + len(linked) <= _LINKED_NAMES else plain
        if used + len(text) > _NAMES:
            shown.append(f"… and {len(groups) - index} more")
            break
        shown.append(text)
        used += len(text) + 2
    suffix = f" ({len(groups)} deployments)" if len(groups) > 1 else ""
    return ", ".join(shown) + suffix


def _cluster_blocks(groups: Sequence[DeploymentGroup], *, dense: bool) -> list[dict[str, Any]]:
    rest, lines = _group_lines(groups[0], dense=dense)
    head = f"{EMOJI.get(groups[0].worst, '')} {_names(groups)}{rest}"
    return _sections([head, *lines])


def _notice_blocks(notices: Sequence[Notice], *, dense: bool | None = None) -> list[dict[str, Any]]:
    """The blocks after the opening; ``dense`` (by default: when more than ``DENSE_AFTER``
    deployment sections) says each notice by its kind and facts."""
    shaped = layout(notices)
    clusters = _alike(shaped.deployments)
    if dense is None:
        dense = len(clusters) > DENSE_AFTER
    return _blocks(shaped, clusters, dense=dense)


def _blocks(
    shaped: Layout, clusters: Sequence[Sequence[DeploymentGroup]], *, dense: bool
) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for notice in shaped.health:
        blocks += _health_blocks(notice)
    for fact in shaped.fleet:
        blocks += _fact_blocks(fact)
    for groups in clusters:
        blocks += _cluster_blocks(groups, dense=dense)
    return blocks


def _units(notices: Sequence[Notice]) -> list[tuple[Notice, ...]]:
    """``notices`` in the order a message shows them, cut where a split may fall: a data-health
    notice, a fleet fact, a section of deployments alike (or one deployment)."""
    shaped = layout(notices)
    return [
        *((notice,) for notice in shaped.health),
        *(fact.notices for fact in shaped.fleet),
        *(tuple(n for group in groups for n in group.notices) for groups in _alike(shaped.deployments)),
    ]


def _fallback(message: Message) -> str:
    """The notification text (and what clients without Block Kit show): the overview, then titles."""
    shaped = layout(message.notices)
    lines = [opening(message)]
    lines += [notice.title for notice in shaped.health]
    lines += [f"{fact.headline}: {', '.join(fact.names)}" for fact in shaped.fleet]
    lines += [notice.title for group in shaped.deployments for notice in group.notices]
    return _clip_escaped("\n".join(lines), SLACK_TEXT_CHARS)


def slack_payload(message: Message) -> dict[str, Any]:
    """The one message to post (for a digest, its first): ``{"text", "blocks"}``, and
    ``thread_ts`` (with ``reply_broadcast`` when it brings a new critical fact) for a reply."""
    return slack_payloads(message)[0]


def slack_payloads(message: Message) -> list[dict[str, Any]]:
    """Every message ``message`` takes, in order: one for notices; one or more for a digest."""
    if message.digest is not None:
        return digest_payloads(message.digest)
    payload: dict[str, Any] = {
        "text": _fallback(message),
        "blocks": _built([*_opening(message), *_notice_blocks(message.notices)][:SLACK_MAX_BLOCKS]),
    }
    if message.thread:
        payload["thread_ts"] = message.thread
        if any(n.status == "firing" and n.severity == "critical" and not n.repeat for n in message.notices):
            payload["reply_broadcast"] = True  # a new critical fact is shown in the channel too
    return [payload]


# --- packing a run's notices into messages -------------------------------------------------


def slack_chunks(notices: Sequence[Notice]) -> list[tuple[Notice, ...]]:
    """Split a run's notices to one channel into as few messages as Slack's limits allow.

    Notices keep the order ``layout`` gives them; a data-health notice, a fleet fact and a
    section of deployments stay in one message (a piece too big for a message alone is cut and
    sent alone). A piece's blocks do not depend on what else a message holds, so sizes add up
    exactly; a message naming more than ``DENSE_AFTER`` deployment sections is dense, so each
    piece is measured both ways.
    """
    if not notices:
        return []
    overview = Overview.of(notices)
    first = _opening(Message("r" * 128, tuple(notices), part=1, parts=99, overview=overview))
    later = _opening(Message("r" * 128, tuple(notices), part=99, parts=99))
    reserve = max(len(first), len(later)), max(size(first), size(later))
    chunks: list[tuple[Notice, ...]] = []
    current = _Chunk()
    for piece in _pieces(notices, reserve):
        candidate = current.plus(piece)
        if current.notices and (piece.alone or current.alone or not candidate.fits(reserve)):
            chunks.append(tuple(current.notices))
            candidate = piece
        current = candidate
    chunks.append(tuple(current.notices))
    return chunks


@dataclass(frozen=True, slots=True)
class _Chunk:
    """Notices measured as a message's content: blocks and size written full and dense, and
    how many deployment sections (more than ``DENSE_AFTER``: dense). ``alone``: a part of a unit
    too big for one message, sent by itself."""

    notices: tuple[Notice, ...] = ()
    full: tuple[int, int] = (0, 0)
    dense: tuple[int, int] = (0, 0)
    sections: int = 0
    alone: bool = False

    @classmethod
    def of(cls, notices: Sequence[Notice], *, alone: bool = False) -> _Chunk:
        shaped = layout(notices)
        clusters = _alike(shaped.deployments)
        full = _blocks(shaped, clusters, dense=False)
        dense = _blocks(shaped, clusters, dense=True)
        return cls(tuple(notices), (len(full), size(full)), (len(dense), size(dense)), len(clusters), alone)

    def plus(self, other: _Chunk) -> _Chunk:
        """Both in one message (their blocks do not depend on each other: sizes add up)."""
        return _Chunk(
            (*self.notices, *other.notices),
            (self.full[0] + other.full[0], self.full[1] + other.full[1]),
            (self.dense[0] + other.dense[0], self.dense[1] + other.dense[1]),
            self.sections + other.sections,
            other.alone,
        )

    def fits(self, reserve: tuple[int, int]) -> bool:
        return _fits((0, 0), self.dense if self.sections > DENSE_AFTER else self.full, reserve)


def _fits(used: tuple[int, int], need: tuple[int, int], reserve: tuple[int, int]) -> bool:
    blocks = reserve[0] + used[0] + need[0]
    chars = reserve[1] + used[1] + need[1]
    return blocks <= SLACK_MAX_BLOCKS and chars <= SLACK_MESSAGE_CHARS


def _pieces(notices: Sequence[Notice], reserve: tuple[int, int]) -> Iterator[_Chunk]:
    """The units a split keeps together, measured; a unit too big for a message alone is cut
    notice by notice, and each part goes alone."""
    for unit in _units(notices):
        whole = _Chunk.of(unit)
        if whole.fits(reserve):
            yield whole
            continue
        part: list[Notice] = []
        for notice in unit:
            if part and not _Chunk.of((*part, notice)).fits(reserve):
                yield _Chunk.of(part, alone=True)
                part = []
            part.append(notice)
        if part:
            yield _Chunk.of(part, alone=True)


# --- the digest ---------------------------------------------------------------------------


def _digest_line(line: DeploymentLine) -> str:
    mark = EMOJI.get(line.worst or "", "") or _STATE_EMOJI.get(line.state, ":large_green_circle:")
    text = f"{mark} {_link(line.url or None, line.name)}"
    state = f"{line.state} ({line.worst})" if line.worst else line.state
    text += f" · {escape_slack(state)}"
    end = end_phrase(line)
    text += f" · {escape_slack(end)}" if end else ""
    return text + (f" · target {escape_slack(line.target)}" if line.target else "")


def _listing(title: str, items: Sequence[str]) -> list[str]:
    shown = [f"• {escape_slack(item)}" for item in items[:_LIST_ITEMS]]
    more = [f"… and {len(items) - _LIST_ITEMS} more (the email digest lists them all)"]
    return [f"*{escape_slack(title)}*", *shown, *(more if len(items) > _LIST_ITEMS else [])]


def _digest_blocks(digest: Digest) -> list[dict[str, Any]]:
    since = f" since {digest.since[:10]}" if digest.since else " this week"
    blocks = [_section(f"*Summary:* {escape_slack(digest_summary(digest))}")]
    changes: list[str] = []
    for title, items in (
        ("State changes", digest.state_changes),
        ("New findings", digest.new_findings),
        ("Resolved", digest.resolved),
        ("New releases", digest.new_releases),
    ):
        if items:
            changes += _listing(title, items)
    blocks += _sections([f"*What changed{since}*", *(changes or ["Nothing changed."])])
    horizon = f"Ends of maintenance in the next {digest.horizon_days} days"
    blocks += _sections(_listing(horizon, digest.upcoming) if digest.upcoming else [f"*{horizon}:* none"])
    blocks += _sections(_listing("Data health", digest.health) if digest.health else ["*Data health:* good"])
    by_state = Counter(line.state for line in digest.deployments)
    for state in sorted(by_state, key=lambda s: STATES.index(s) if s in STATES else len(STATES)):
        lines = [line for line in digest.deployments if line.state == state]
        title = f"*{escape_slack(state.capitalize())}* ({len(lines)})"
        blocks += _sections([title, *(_digest_line(line) for line in lines)])
    if not digest.deployments:
        blocks.append(_section("No deployment is routed to this receiver."))
    return blocks


def digest_payloads(digest: Digest) -> list[dict[str, Any]]:
    """The digest as one or more messages (each within the limits); the first opens with a header."""
    title = f"supportwatch weekly digest {digest.week} for {digest.receiver}"
    text = _clip_escaped(f"{title}: {digest_summary(digest)}", SLACK_TEXT_CHARS)
    header = _header(title)
    reserve = (1, max(size([header]), size([_context("x" * 80)])))
    posts: list[list[dict[str, Any]]] = [[]]
    used = (0, 0)
    for block in _digest_blocks(digest):
        need = (1, size([block]))
        if posts[-1] and not _fits(used, need, reserve):
            posts.append([])
            used = (0, 0)
        posts[-1].append(block)
        used = (used[0] + need[0], used[1] + need[1])
    payloads = []
    for index, blocks in enumerate(posts, start=1):
        opening_block = header if index == 1 else _context(f"{title}, continued ({index} of {len(posts)})")
        payloads.append({"text": text, "blocks": _built([opening_block, *blocks])})
    return payloads
