"""Notifications (DESIGN §3 steps 3-4), built after Alertmanager's notifier design.

wiring.py      receiver kind -> constructor, listed explicitly (slack, email, console)
base.py        the ``Notifier`` protocol: one ``send`` whose ``Outcome`` says "retryable?"
classify.py    the one classifier: which HTTP statuses, Slack errors and SMTP codes retry
plan.py        pure: route findings to receivers, mute acked ones, decide what is due
message.py     pure: notices and messages, Slack escaping, splitting and Block Kit
digest.py      pure: the weekly digest's content and its ISO-week key
delivery.py    the fixed sequence: claim (insert-or-nothing) -> send with retry -> record
slack.py / email.py / console.py   the integrations; none retries by itself
"""
