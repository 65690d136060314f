from __future__ import annotations

import smtplib
import urllib.request

from .loopback import SlackServer, SmtpServer


def test_servers_answer(slack_server: SlackServer, smtp_server: SmtpServer) -> None:
    request = urllib.request.Request(slack_server.webhook_url, data=b'{"text": "x"}', method="POST")
    with urllib.request.urlopen(request) as response:
        assert response.read() == b"ok"
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        client.sendmail("a@example.com", ["b@example.com"], "Subject: x\r\n\r\nhello")
    assert len(smtp_server.recorder.envelopes) == 1
    assert len(slack_server.requests) == 1
