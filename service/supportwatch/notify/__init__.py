"""Notifications (DESIGN §3 steps 3-4), built after Alertmanager's notifier design.

jobs.py        the notify and digest runs: episodes -> mute -> plan -> claim, send, record
wiring.py      the settings read once: receiver kind -> constructor (slack, email, console),
               the router's routes, the secrets to redact, the injected clocks
base.py        the ``Notifier`` protocol: one ``send`` whose ``Outcome`` says "retryable?"
classify.py    which Slack errors and SMTP replies retry (HTTP: ``supportwatch.retry``)
plan.py        pure: route findings to receivers, skip muted ones, decide what is due
message.py     pure: notices and messages (a deployment's view, its page, its thread), escaping
layout.py      pure: how a message's notices are grouped (by deployment, fleet facts, data health)
text.py        pure: a message as plain text (console, the email's text part, Slack's fallback)
slack_blocks.py pure: Block Kit with slack_sdk's models, packing a run into few messages
digest.py      pure: the weekly digest's content and its ISO week
payload.py     what a delivery carries (a notice or a digest), typed and as stored JSON
delivery.py    the fixed sequence: claim (insert-or-nothing) -> send with retry -> record
log.py         the delivery log (Alertmanager's nflog): DeliveryKey, DeliveryState, DeliveryLog
silences.py    acks, and whether a finding is muted at an instant
episodes.py    finding episodes: new, continuing, came back, resolved or superseded
slack.py / email.py / console.py   the integrations; none retries by itself
preview.py     what a run would send, written to files (no send, no database)
"""
