"""Requests to join are mailed as invitations are: the requester gets one mail when an
admin approves or declines, queued in the decision's transaction and sent by the outbox
worker to a real SMTP server in process; nothing when the request is still pending."""

from models import OutboxMail, db
from tests.outbox.conftest import parts
from tests.support import add_user


def test_the_requester_is_mailed_the_decision(api, demo, smtp, worker):
    add_user(api, "ann", name="Ann")
    add_user(api, "bob", name="Bob")
    ids = {}
    for user in ("ann", "bob"):
        answer = api.post("/v1/orgs/org-pix4d/join-requests", {}, actor=user)
        assert answer.status_code == 201, answer.get_json()
        ids[user] = answer.get_json()["id"]
    with db.connection_context():  # asking mails nobody
        assert not OutboxMail.select().where(OutboxMail.template == "join_request_decided").exists()
    base = "/v1/orgs/org-pix4d/join-requests"
    approved = api.post(f"{base}/{ids['ann']}/approve", {"role": "reader"}, actor="pix4d-manager")
    assert approved.status_code == 200, approved.get_json()
    declined = api.post(f"{base}/{ids['bob']}/decline", actor="pix4d-manager")
    assert declined.status_code == 200, declined.get_json()
    assert worker.step()["mail"]["sent"] == 2
    [to_ann] = smtp.to("ann@example.com")
    text, html = parts(to_ann)
    assert to_ann["Subject"] == "You joined Demo pix4d"
    assert "approved your request" in text and "Reader" in text and "Reader" in html
    [to_bob] = smtp.to("bob@example.com")
    assert to_bob["Subject"] == "Your request to join Demo pix4d was declined"
    assert "declined your request" in parts(to_bob)[0]
    assert worker.step()["mail"]["sent"] == 0  # each once
