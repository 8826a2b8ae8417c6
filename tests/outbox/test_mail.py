"""Invitation mail: queued in the invitation's transaction, sent by the worker to a real
SMTP server in process, one per invitation even when the sender dies mid-way; the link's
token accepts; resend kills the first token; the token is never stored in the clear."""

import datetime
import email.parser
import email.policy
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path

import peewee
import pytest

import models
from access import mail
from models import AuditEvent, Invitation, OutboxMail, db, hash_secret
from tests.conftest import PG_URL
from tests.outbox.conftest import parts
from tests.support import accept, invite, poll, problem

ROOT = Path(__file__).resolve().parents[2]
# (style, inviter, role to invite, lifetime in words, words of the style's template)
STYLES = [
    ("pix4d", "pix4d-owner", "editor", "15 days", "PIX4D organization"),
    ("up42", "up42-admin", "member", "48 hours", "UP42"),
    ("respondio", "respondio-org-admin", "member", "7 days", "respond.io"),
]


def token_of(message) -> str:
    text, _ = parts(message)
    link = re.search(r"https://app\.example\.test/invitations/accept\?token=(\S+)", text)
    assert link, text
    return urllib.parse.unquote(link.group(1))


def queued(invitation_id=None) -> list:
    with db.connection_context():
        query = OutboxMail.select().order_by(OutboxMail.id)
        if invitation_id:
            query = query.where(OutboxMail.invitation_id == invitation_id)
        return list(query)


@pytest.mark.parametrize("style, inviter, role, lifetime, words", STYLES)
def test_invite_mails_a_link_whose_token_accepts(
    api, demo, smtp, worker, style, inviter, role, lifetime, words
):
    org = f"org-{style}"
    made = invite(api, inviter, org, (f"new-{style}@example.com", role))
    assert made.status_code == 201, made.get_json()
    item = made.get_json()["items"][0]
    # Written in the invitation's transaction, not sent yet: the row holds no token.
    [row] = queued(item["id"])
    assert row.status == "pending" and item["token"] not in str(row.__data__)
    assert worker.step()["mail"]["sent"] == 1
    [message] = smtp.to(f"new-{style}@example.com")
    text, html = parts(message)
    assert words in message["Subject"] or words in text
    assert f"Demo {style}" in message["Subject"] or f"Demo {style}" in text
    assert lifetime in text and lifetime in html  # the expiry in words
    assert f"{style} {inviter.split('-', 1)[1].replace('-', ' ')}" in text  # the inviter's name
    role_words = role.replace("_", " ").title()
    assert role_words in text and role_words in html
    assert message["Message-ID"] and message["From"] == "Orgauthz <invitations@orgauthz.example>"
    token = token_of(message)
    assert token == item["token"]  # the answer's token and the mail's are one
    assert 'href="https://app.example.test/invitations/accept?token=' in html
    # Sent: the row keeps no nonce, and a second pass sends nothing more.
    [row] = queued(item["id"])
    assert row.status == "sent" and row.nonce is None and row.sent_at is not None
    assert worker.step()["mail"]["sent"] == 0 and len(smtp.to(f"new-{style}@example.com")) == 1
    joined = accept(api, token, f"new-{style}", email=f"new-{style}@example.com")
    assert joined.status_code == 200, joined.get_json()
    assert joined.get_json()["role"] == role


@pytest.mark.parametrize("style, inviter, role, lifetime, words", STYLES)
def test_resend_kills_the_first_token_and_restarts_the_lifetime(
    api, demo, smtp, worker, clock, style, inviter, role, lifetime, words
):
    org = f"org-{style}"
    address = f"again-{style}@example.com"
    item = invite(api, inviter, org, (address, role)).get_json()["items"][0]
    worker.step()
    first = token_of(smtp.to(address)[0])
    clock.advance(hours=20)
    resent = api.post(f"/v1/orgs/{org}/invitations/{item['id']}/resend", actor=inviter)
    assert resent.status_code == 200, resent.get_json()
    body = resent.get_json()
    assert body["token"] != first and body["status"] == "pending"
    old_expiry = datetime.datetime.fromisoformat(item["expires_at"].rstrip("Z"))
    new_expiry = datetime.datetime.fromisoformat(body["expires_at"].rstrip("Z"))
    assert new_expiry - old_expiry == datetime.timedelta(hours=20)  # lifetime restarted
    worker.step()
    mails = smtp.to(address)
    assert len(mails) == 2 and token_of(mails[1]) == body["token"]
    assert lifetime in parts(mails[1])[0]
    assert "was already used" not in problem(accept(api, first, "x", email=address), 404)["detail"]
    with db.connection_context():
        entry = AuditEvent.select().where(AuditEvent.action == "invitation.resend").get()
        assert entry.actor == inviter and entry.target == f"invitation:{item['id']}"
    joined = accept(api, body["token"], f"again-{style}", email=address)
    assert joined.status_code == 200, joined.get_json()
    # Accepted: it cannot be resent.
    problem(api.post(f"/v1/orgs/{org}/invitations/{item['id']}/resend", actor=inviter), 409)


def test_resend_is_decided_by_the_policy_and_revives_an_expired_invitation(
    api, demo, smtp, worker, clock
):
    item = invite(api, "pix4d-manager", "org-pix4d", ("late@example.com", "reader"))
    item = item.get_json()["items"][0]
    url = f"/v1/orgs/org-pix4d/invitations/{item['id']}/resend"
    body = problem(api.post(url, actor="pix4d-editor"), 403)
    assert "pix4d-editor may not resend" in body["detail"]
    problem(api.post("/v1/orgs/org-pix4d/invitations/inv-nope/resend", actor="pix4d-owner"), 404)
    clock.advance(days=16)
    assert problem(accept(api, item["token"], "late"), 410)
    again = api.post(url, actor="pix4d-manager")
    assert again.status_code == 200 and again.get_json()["status"] == "pending"
    assert accept(api, again.get_json()["token"], "late").status_code == 200


def test_a_mail_whose_invitation_ended_before_sending_is_dropped(api, demo, smtp, worker):
    a, b = invite(
        api,
        "pix4d-owner",
        "org-pix4d",
        ("gone@example.com", "reader"),
        ("used@example.com", "reader"),
    ).get_json()["items"]
    api.delete(f"/v1/orgs/org-pix4d/invitations/{a['id']}", actor="pix4d-owner")
    accept(api, b["token"], "used")
    done = worker.step()["mail"]
    assert done["sent"] == 0 and smtp.messages == []
    assert all(r.status == "dropped" and r.nonce is None for r in queued())


def test_a_failing_server_is_retried_with_backoff(api, demo, smtp, worker, clock, app):
    mail.configure(
        {"MAIL_URL": f"smtp://127.0.0.1:{_closed_port()}", "INVITATION_ACCEPT_URL": "x?"},
        app.instance_path,
    )
    invite(api, "pix4d-owner", "org-pix4d", ("retry@example.com", "reader"))
    assert worker.step()["mail"]["retry"] == 1
    [row] = queued()
    assert row.attempts == 1 and row.next_attempt_at == clock.now + datetime.timedelta(seconds=30)
    assert "ConnectionRefused" in row.last_error
    clock.advance(seconds=29)
    assert worker.step()["mail"] == {"sent": 0, "dropped": 0, "retry": 0, "failed": 0}
    clock.advance(seconds=2)
    assert worker.step()["mail"]["retry"] == 1
    assert queued()[0].next_attempt_at == clock.now + datetime.timedelta(seconds=60)
    mail.configure(
        {"MAIL_URL": f"smtp://127.0.0.1:{smtp.port}", "INVITATION_ACCEPT_URL": "x?"},
        app.instance_path,
    )
    clock.advance(seconds=61)
    assert worker.step()["mail"]["sent"] == 1 and len(smtp.to("retry@example.com")) == 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CRASHER = """
import datetime, sys
import models
from access import derived, mail
url, schema, instance, port, now = sys.argv[1:6]
models.init_db(url, **({{"options": f"-c search_path={{schema}}"}} if schema else {{}}))
derived.configure(None, instance)
mail.configure({{"MAIL_URL": f"smtp://127.0.0.1:{{port}}", "MAIL_TIMEOUT_SECONDS": 120}}, instance)
with models.db.connection_context():
    mail.send_due("crasher", datetime.datetime.fromisoformat(now))
print("sent?!")
"""


@pytest.mark.parametrize("style, inviter, role, lifetime, words", STYLES)
def test_a_sender_killed_between_commit_and_send_delivers_once_after_restart(
    api, demo, smtp, worker, clock, app, pg_schema, style, inviter, role, lifetime, words
):
    address = f"crash-{style}@example.com"
    item = invite(api, inviter, f"org-{style}", (address, role)).get_json()["items"][0]
    # A server that accepts the connection and never answers: the sender claims the mail
    # (committed lease), connects, and waits there until it is killed.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    url = app.config["DATABASE_URL"]
    schema = pg_schema if url == PG_URL else ""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CRASHER.format(),
            url,
            schema or "",
            app.instance_path,
            str(silent.getsockname()[1]),
            clock.now.isoformat(),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    held = None
    try:

        def claimed() -> bool:
            assert proc.poll() is None, proc.stdout.read()
            return queued(item["id"])[0].lease_owner == "crasher"

        poll(claimed, timeout=30, every=0.05)
        [row] = queued(item["id"])
        assert row.lease_owner == "crasher" and row.status == "pending"
        silent.settimeout(30)
        held, _ = silent.accept()  # it is connected to the silent server now
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        if held is not None:
            held.close()
        silent.close()
    assert smtp.messages == []
    # Restarted while the dead sender's lease holds: nothing yet (no double send).
    assert worker.step()["mail"]["sent"] == 0
    # The lease runs out: the mail goes, once.
    clock.advance(seconds=mail.SETTINGS.lease_seconds + 1)
    assert worker.step()["mail"]["sent"] == 1
    clock.advance(seconds=mail.SETTINGS.lease_seconds + 1)
    assert worker.step()["mail"]["sent"] == 0
    [message] = smtp.to(address)
    assert token_of(message) == item["token"]
    [row] = queued(item["id"])
    assert row.status == "sent" and row.attempts == 2 and row.nonce is None
    assert accept(api, item["token"], f"crash-{style}", email=address).status_code == 200


def test_tokens_are_in_no_column_before_or_after_sending(api, demo, smtp, worker):
    made = invite(
        api, "pix4d-owner", "org-pix4d", ("t1@example.com", "reader"), ("t2@example.com", "member")
    )
    tokens = [i["token"] for i in made.get_json()["items"]]
    resent = api.post(
        f"/v1/orgs/org-pix4d/invitations/{made.get_json()['items'][1]['id']}/resend",
        actor="pix4d-owner",
    ).get_json()["token"]
    tokens.append(resent)

    def no_token_anywhere():
        with db.connection_context():
            for model in models.MODELS:
                text = [
                    f
                    for f in model._meta.sorted_fields
                    if isinstance(f, (peewee.CharField, peewee.TextField))
                ]
                for row in model.select(*text).dicts():
                    for token in tokens:
                        assert token not in str(row), f"{model.__name__} holds a token"

    no_token_anywhere()  # queued: a nonce, not the token
    worker.step()
    no_token_anywhere()  # sent: not even the nonce
    with db.connection_context():
        assert {r.nonce for r in OutboxMail.select()} == {None}
        hashes = {i.token_hash for i in Invitation.select(Invitation.token_hash)}
    # only a hash of each live token is kept; the one the resend replaced is gone
    assert {hash_secret(tokens[0]), hash_secret(resent)} <= hashes
    assert hash_secret(tokens[1]) not in hashes


def test_make_runs_default_writes_eml_files(api, demo, worker, app, tmp_path):
    mail.configure({"MAIL_URL": f"file://{tmp_path / 'mail'}"}, app.instance_path)
    try:
        item = invite(api, "up42-admin", "org-up42", ("file@example.com", "member")).get_json()
        worker.step()
        [path] = (tmp_path / "mail").glob("*.eml")
        assert item["items"][0]["id"] in path.name
        text = path.read_text()
        assert (
            "Subject: Join the Demo up42 account on UP42" in text and "To: file@example.com" in text
        )
    finally:
        mail.configure({"MAIL_URL": "off"}, app.instance_path)


def test_mail_off_queues_nothing(api, demo, app):
    mail.configure({"MAIL_URL": "off"}, app.instance_path)
    made = invite(api, "pix4d-owner", "org-pix4d", ("quiet@example.com", "reader"))
    assert made.status_code == 201 and queued() == []
    assert accept(api, made.get_json()["items"][0]["token"], "quiet").status_code == 200


# Names that would write mail headers: the vector (an encoded word that decodes to
# CR LF and a Reply-To), the same wrapped in a second encoded word, raw CR LF, and the line
# breaks str.splitlines() knows beyond CR and LF.
HEADER_VECTORS = [
    "Acme =?utf-8?q?=0D=0AReply-To:_attacker@evil.example=0D=0A=0D=0Aevil?=",
    "Acme =?utf-8?b?PT91dGYtOD9xPz0wRD0wQVJlcGx5LVRvOl9hdHRhY2tlckBldmlsLmV4YW1wbGU/PQ==?=",
    "Acme\r\nReply-To: attacker@evil.example\r\n\r\nevil",
    "Acme\u2028Reply-To: attacker@evil.example\x85evil",
]
MAIL_HEADERS = {"subject", "from", "to", "date", "message-id", "mime-version", "content-type"}


@pytest.mark.parametrize("name", HEADER_VECTORS)
def test_a_name_cannot_write_a_mail_header(api, demo, worker, app, tmp_path, name):
    # Refused at the API, naming the field, wherever a name that reaches a mail is set.
    for response, field in [
        (api.post("/v1/orgs", {"name": name, "style": "pix4d"}, actor="pix4d-owner"), "name"),
        (api.patch("/v1/orgs/org-pix4d", {"name": name}, actor="pix4d-owner"), "name"),
        (api.put("/v1/users/pix4d-owner", {"email": "o@example.com", "name": name}), "name"),
    ]:
        body = response.get_json()
        assert response.status_code == 422, body
        assert "mail headers" in body["errors"][field][0], body
    # Stored before the API refused them (written to the table directly): the mail is built
    # with the name on one line, and its bytes parse to exactly the headers it was built with.
    with db.connection_context():
        models.Organization.update(name=name).where(models.Organization.id == "org-pix4d").execute()
        models.User.update(name=name).where(models.User.id == "pix4d-owner").execute()
    mail.configure({"MAIL_URL": f"file://{tmp_path / 'mail'}"}, app.instance_path)
    try:
        made = api.post(
            "/v1/orgs/org-pix4d/invitations",
            {"invitations": [{"email": "target@example.com", "role": "reader"}]},
            actor="pix4d-owner",
        )
        assert made.status_code == 201, made.get_json()
        assert worker.step()["mail"]["sent"] == 1
    finally:
        mail.configure({"MAIL_URL": "off"}, app.instance_path)
    [path] = (tmp_path / "mail").glob("*.eml")
    raw = path.read_bytes()
    head, _, _ = raw.partition(b"\n\n")
    names = {
        line.split(b":", 1)[0].decode().lower()
        for line in head.split(b"\n")
        if line and not line[:1].isspace()
    }
    assert names == MAIL_HEADERS, raw[:600]
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)
    assert {k.lower() for k in message.keys()} == MAIL_HEADERS
    assert message["Reply-To"] is None and message["To"] == "target@example.com"
    assert message["From"] == "orgauthz <no-reply@localhost>"
    subject = message["Subject"]
    assert "Acme" in subject and not any(c in subject for c in "\r\n\x85\u2028")
    text, html = parts(message)
    assert "Acme" in text and "\nReply-To:" not in text.replace("\r\n", "\n")
    assert not any(c in text for c in "\x85\u2028")
    assert [p.get_content_type() for p in message.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]


@pytest.mark.parametrize("name", ["Zoë 😀 \t tab", "Café =?utf-8?q?Cr=C3=A8me?="])
def test_a_name_with_no_line_break_in_it_is_kept(api, demo, name):
    made = api.post("/v1/orgs", {"name": name, "style": "pix4d"}, actor="pix4d-owner")
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["name"] == name
    assert mail.header_text(name) == " ".join(mail._decoded(name).split())


def test_flask_outbox_work_sends_the_queued_mails(api, demo, smtp, app):
    """``flask outbox work``, the sender for web nodes run with OUTBOX_WORKER off: its
    thread sends what the web nodes queued (its passes read the app outside a request)."""
    made = invite(api, "pix4d-owner", "org-pix4d", ("by-the-cli@example.com", "editor"))
    assert made.status_code == 201, made.get_json()
    result = app.test_cli_runner().invoke(args=["outbox", "work", "--seconds", "3"])
    assert result.exit_code == 0, result.output
    assert len(smtp.to("by-the-cli@example.com")) == 1
    assert [m.status for m in queued(made.get_json()["items"][0]["id"])] == ["sent"]
