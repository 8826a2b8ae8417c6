"""Retries, timeouts and idempotency keys, against scripted answers (httpx.MockTransport):
which calls are sent again, with what, and when they are not."""

import asyncio
import time

import httpx
import pytest
from orgauthz_client import (
    AsyncClient,
    Client,
    Conflict,
    ConnectionFailed,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    Timeout,
    Unauthorized,
    Unavailable,
)

DECISION = {"allowed": True, "decision_id": "d", "policy_version": "v"}
PROBLEM_503 = {
    "type": "about:blank",
    "title": "Service Unavailable",
    "status": 503,
    "detail": "the database is unavailable; the answer is a deny, try again",
    "allowed": False,
}


def scripted(*answers):
    """A transport answering ``answers`` in turn (an exception class is raised); it records
    every request it got."""
    sent = []

    def handler(request):
        sent.append(request)
        answer = answers[min(len(sent), len(answers)) - 1]
        if isinstance(answer, type) and issubclass(answer, Exception):
            raise answer("scripted", request=request)
        status, body, *headers = answer
        return httpx.Response(status, json=body, headers=headers[0] if headers else None)

    return httpx.MockTransport(handler), sent


def client(transport, **kw):
    kw.setdefault("backoff", 0.001)
    return Client("http://orgauthz.test", "k", actor="u-1", transport=transport, **kw)


def test_a_decision_is_retried_on_503_and_connection_errors():
    transport, sent = scripted(
        (503, PROBLEM_503, {"Retry-After": "0"}), httpx.ConnectError, (200, DECISION)
    )
    with client(transport) as c:
        assert c.authorize("u", "view", ("T", "i")).allowed
    assert len(sent) == 3
    assert all(r.headers["Authorization"] == "Bearer k" for r in sent)
    assert "Idempotency-Key" not in sent[0].headers  # a read needs none


def test_retries_stop_after_the_limit_and_503_raises_unavailable_with_retry_after():
    transport, sent = scripted((503, PROBLEM_503, {"Retry-After": "0"}))
    with client(transport, retries=2) as c, pytest.raises(Unavailable) as caught:
        c.get_org("o")
    assert len(sent) == 3
    assert caught.value.retry_after == 0.0 and caught.value.status == 503
    assert caught.value.detail.startswith("the database is unavailable")


def test_retry_after_is_waited_for():
    transport, sent = scripted((503, PROBLEM_503, {"Retry-After": "0.3"}), (200, DECISION))
    started = time.monotonic()
    with client(transport) as c:
        c.authorize("u", "view", ("T", "i"))
    assert time.monotonic() - started >= 0.3


def test_a_write_keeps_one_idempotency_key_across_its_retries():
    transport, sent = scripted(httpx.ReadTimeout, (503, PROBLEM_503), (201, {"items": []}))
    with client(transport) as c:
        c.invite("o", [("a@example.com", "reader")])
    keys = {r.headers["Idempotency-Key"] for r in sent}
    assert len(sent) == 3 and len(keys) == 1 and all(keys)
    assert sent[0].headers["X-Actor-Id"] == "u-1"


def test_each_write_gets_a_fresh_key_or_the_callers():
    transport, sent = scripted((200, {"role": "editor"}))
    with client(transport) as c:
        c.change_role("o", "u", "editor")
        c.change_role("o", "u", "editor")
        c.change_role("o", "u", "editor", idempotency_key="mine-1")
    keys = [r.headers["Idempotency-Key"] for r in sent]
    assert keys[0] != keys[1] and keys[2] == "mine-1"


def test_without_a_key_a_write_is_not_sent_twice_unless_nothing_was_sent():
    transport, sent = scripted((503, PROBLEM_503))
    with client(transport, idempotency=False) as c, pytest.raises(Unavailable):
        c.change_role("o", "u", "editor")
    assert len(sent) == 1 and "Idempotency-Key" not in sent[0].headers

    transport, sent = scripted(httpx.ReadTimeout)
    with client(transport, idempotency=False) as c, pytest.raises(Timeout):
        c.change_role("o", "u", "editor")
    assert len(sent) == 1

    # refused before anything was sent: safe to send again
    transport, sent = scripted(httpx.ConnectError, (200, {"role": "editor"}))
    with client(transport, idempotency=False) as c:
        assert c.change_role("o", "u", "editor").role == "editor"
    assert len(sent) == 2


def test_other_errors_are_not_retried_and_are_typed():
    cases = [
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (410, Gone),
        (422, Invalid),
    ]
    for status, cls in cases:
        body = {
            "type": "about:blank",
            "title": "T",
            "status": status,
            "detail": "why",
            "errors": {"role": ["not a role"]},
        }
        transport, sent = scripted((status, body, {"X-Request-Id": "r-1"}))
        with client(transport) as c, pytest.raises(cls) as caught:
            c.get_org("o")
        assert len(sent) == 1
        assert caught.value.detail == "why" and caught.value.errors == {"role": ["not a role"]}
        assert caught.value.request_id == "r-1"
    assert Forbidden(403, detail="the reason").reason == "the reason"


def test_a_connection_that_never_answers_is_a_timeout():
    transport, sent = scripted(httpx.ConnectTimeout)
    with client(transport, retries=1) as c, pytest.raises(ConnectionFailed) as caught:
        c.get_user("u")
    assert isinstance(caught.value, Timeout) and len(sent) == 2


def test_allowed_fails_closed_on_503_and_errors_without_raising():
    for answer in [
        (503, PROBLEM_503, {"Retry-After": "0"}),
        httpx.ConnectError,
        (401, {"status": 401}),
        (200, {**DECISION, "allowed": False}),
    ]:
        transport, _ = scripted(answer)
        with client(transport) as c:
            assert c.allowed("u", "view", ("T", "i")) is False
    transport, _ = scripted((200, DECISION))
    with client(transport) as c:
        assert c.allowed("u", "view", ("T", "i")) is True


def test_allowed_never_outlasts_its_timeout_even_with_retry_after():
    transport, sent = scripted((503, PROBLEM_503, {"Retry-After": "5"}))
    started = time.monotonic()
    with client(transport, retries=5, max_backoff=10) as c:
        assert c.allowed("u", "view", ("T", "i"), timeout=0.5) is False
    assert time.monotonic() - started < 0.5 and len(sent) == 1


def test_batches_over_1000_are_split_and_report_each_policy_version():
    calls = []

    def handler(request):
        import json

        checks = json.loads(request.content)["checks"]
        calls.append(len(checks))
        version = f"v{len(calls)}"
        return httpx.Response(
            200,
            json={
                "results": [
                    {
                        "allowed": c["action"] == "view",
                        "decision_id": "d",
                        "policy_version": version,
                    }
                    for c in checks
                ]
            },
        )

    with client(httpx.MockTransport(handler)) as c:
        result = c.authorize_batch(
            [("u", "view" if i % 2 else "edit", ("T", str(i))) for i in range(2500)]
        )
    assert calls == [1000, 1000, 500] and result.calls == 3
    assert result.policy_versions == {"v1", "v2", "v3"} and not result.one_policy_version
    assert [r.allowed for r in result][:4] == [False, True, False, True] and len(result) == 2500


def test_pages_are_followed_to_the_last_one():
    pages = {None: (["a", "b"], "c1"), "c1": (["c"], "c2"), "c2": ([], None)}
    seen = []

    def handler(request):
        import json

        cursor = json.loads(request.content).get("cursor")
        seen.append(cursor)
        ids, nxt = pages[cursor]
        return httpx.Response(200, json={"items": [{"id": i} for i in ids], "next_cursor": nxt})

    with client(httpx.MockTransport(handler)) as c:
        assert [a.id for a in c.list_actors("view", ("T", "i"))] == ["a", "b", "c"]
    assert seen == [None, "c1", "c2"]


def test_the_async_client_does_the_same():
    transport_calls = []

    async def handler(request):
        transport_calls.append(request)
        if len(transport_calls) == 1:
            return httpx.Response(503, json=PROBLEM_503, headers={"Retry-After": "0"})
        return httpx.Response(200, json=DECISION)

    async def main():
        async with AsyncClient(
            "http://orgauthz.test", "k", backoff=0.001, transport=httpx.MockTransport(handler)
        ) as c:
            decision = await c.authorize("u", "view", ("T", "i"))
            allowed = await c.allowed("u", "view", ("T", "i"))
            return decision, allowed

    decision, allowed = asyncio.run(main())
    assert decision.allowed and allowed and len(transport_calls) == 3


def test_both_clients_have_the_same_methods():
    def public(cls):
        return {n for n in vars(cls) if not n.startswith("_")} - {"close", "aclose"}

    assert public(Client) == public(AsyncClient)


def test_the_events_iterator_ends_at_the_first_empty_page():
    # the service's events cursor is never null: poll again with it for what commits next
    pages = {None: ([1, 2], "c1"), "c1": ([3], "c2"), "c2": ([], "c2")}
    seen = []

    def handler(request):
        after = request.url.params.get("after")
        seen.append(after)
        ids, nxt = pages[after]
        items = [
            {
                "id": i,
                "type": "t",
                "time": "",
                "org": "o",
                "actor": None,
                "subject": None,
                "before": None,
                "after": None,
            }
            for i in ids
        ]
        return httpx.Response(200, json={"items": items, "next_cursor": nxt})

    with client(httpx.MockTransport(handler)) as c:
        assert [e.id for e in c.events()] == [1, 2, 3]
        assert c.events_page(after="c2").next_cursor == "c2"
    assert seen == [None, "c1", "c2", "c2"]
