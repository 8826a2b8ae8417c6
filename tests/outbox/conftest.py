"""Fixtures of the outbox tests: a real SMTP server in process (aiosmtpd), a webhook
receiver on 127.0.0.1 that checks signatures, and the worker driven by the test's clock."""

import email
import email.policy
import hashlib
import hmac
import http.server
import json
import threading

import pytest
from aiosmtpd.controller import Controller

from access import mail, webhooks
from access.context import Context
from access.worker import Worker
from tests.serving import free_port

ACCEPT_URL = "https://app.example.test/invitations/accept?token={token}"


class Inbox:
    """What the SMTP server received: parsed messages, in order."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((envelope.rcpt_tos, message))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        with self.lock:
            return [m for rcpt, m in self.messages if address in rcpt]


@pytest.fixture
def smtp(app):
    """An SMTP server on 127.0.0.1 that the mail settings point at."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mail.configure(
        {
            "MAIL_URL": f"smtp://127.0.0.1:{controller.port}",
            "MAIL_FROM": "Orgauthz <invitations@orgauthz.example>",
            "INVITATION_ACCEPT_URL": ACCEPT_URL,
            "MAIL_TIMEOUT_SECONDS": 10,
        },
        app.instance_path,
    )
    inbox.port = controller.port
    yield inbox
    controller.stop()
    mail.configure({"MAIL_URL": "off"}, app.instance_path)


@pytest.fixture
def worker(app, clock):
    """The outbox worker, one pass per ``step()``, on the test's clock."""
    policy = app.extensions["orgauthz.policy"]
    return Worker(lambda: Context(policy.current, clock))


def parts(message) -> tuple:
    """(text, html) of a mail."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


# ---------------------------------------------------------------- webhooks
def verify(secret: str, headers, body: bytes, now_unix: int, window: int = 300) -> bool:
    """What a receiver of the deprecated X-Orgauthz-Signature does: recompute the signature
    over "<timestamp>.<body>", compare in constant time, and refuse an old timestamp."""
    timestamp = headers["X-Orgauthz-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    signature = headers["X-Orgauthz-Signature"]
    fresh = abs(now_unix - int(timestamp)) <= window
    return fresh and hmac.compare_digest(signature, "v1=" + expected.hexdigest())


class Receiver:
    """An HTTP server on 127.0.0.1 recording every POST; ``fail`` answers 500 once for
    the event types in it. With ``check`` (a callable of the body and the headers that
    raises on a bad delivery, as a receiver's verification does), a delivery it refuses is
    answered 400 and its error kept in ``refused``."""

    def __init__(self):
        self.requests = []
        self.fail = set()
        self.check = None
        self.refused = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                event = json.loads(body)
                status = 200
                try:
                    if receiver.check is not None:
                        receiver.check(body, dict(self.headers))
                except Exception as exc:  # noqa: BLE001 - whatever the verifier raises
                    receiver.refused.append(str(exc))
                    status = 400
                if status == 200 and event["type"] in receiver.fail:
                    receiver.fail.discard(event["type"])
                    status = 500
                receiver.requests.append((dict(self.headers), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/orgauthz"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(app):
    webhooks.configure({"WEBHOOK_ALLOW_PRIVATE": True, "WEBHOOK_TIMEOUT_SECONDS": 5})
    r = Receiver()
    yield r
    r.close()
    webhooks.configure({})
