"""The access log off the request thread (routes/edge.py ``AccessLines``): a line written by
the writer thread is the line ``ops.logs.JsonFormatter`` writes for the same record, and a
request hands a tuple over instead of making a record only when nothing but
``ops.logs.setup``'s handler listens."""

import io
import json
import logging

import pytest

from ops.logs import JsonFormatter
from routes import edge
from tests.support import wait_until

AWKWARD = [
    ("abc123", "tests", "POST", "/v1/authorize", 200, 0.071),
    ('a"b\\c', None, "PATCH", "/v1/orgs/<org_id>", 404, 12.5),
    ("id-é-\u2603", "kéy \n", "other", "other", 429, 0.0),
    ("x" * 100, "k", "GET", "/healthz", 503, 1234.567),
]


@pytest.fixture
def setup_handler(monkeypatch):
    """A function leaving the root logger as ``ops.logs.setup`` does, writing into a string
    (called in the test: pytest adds its capture handlers after the fixtures); returns the
    string and a fresh ``AccessLines``."""
    lines = edge.AccessLines()
    monkeypatch.setattr(edge, "LINES", lines)
    monkeypatch.setattr(edge.ACCESS, "handlers", [])

    def install():
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter())
        root = logging.getLogger()
        monkeypatch.setattr(root, "handlers", [handler])
        monkeypatch.setattr(root, "level", logging.INFO)
        return stream, lines

    return install


@pytest.mark.parametrize("fields", AWKWARD)
def test_a_line_is_the_formatters_line(fields):
    when = 1_796_000_000.123456
    line = (when, *fields)
    record = logging.LogRecord("orgauthz.access", logging.INFO, __file__, 1, None, None, None)
    record.msg = edge._fields(line)
    record.created = when
    assert edge.LINES.format(line) == JsonFormatter().format(record) + "\n"
    assert json.loads(edge.LINES.format(line))["request_id"] == fields[0]


def test_requests_hand_over_tuples_and_the_thread_writes_them(setup_handler, monkeypatch):
    stream, lines = setup_handler()
    handled = []
    monkeypatch.setattr(edge.ACCESS, "handle", handled.append)
    for n in range(50):
        edge.closed("/v1/authorize", "POST", 200, None, f"r{n}", "tests")
    assert handled == []  # no record made on the request thread
    written = wait_until(lambda: stream.getvalue().count("\n") == 50 and stream.getvalue())
    got = [json.loads(x) for x in written.splitlines()]
    assert [g["request_id"] for g in got] == [f"r{n}" for n in range(50)]
    assert got[0]["logger"] == "orgauthz.access" and got[0]["level"] == "info"
    assert lines.pending == [] and lines.dropped == 0


def test_another_listener_gets_the_record_through_logging(setup_handler, monkeypatch):
    stream, lines = setup_handler()
    seen = []

    class Listener(logging.Handler):
        def emit(self, record):
            seen.append(record.msg)

    logging.getLogger().handlers.append(Listener())
    edge.closed("/healthz", "GET", 200, None, "r1", None)
    assert lines.pending == [] and seen and seen[0]["request_id"] == "r1"
    assert json.loads(stream.getvalue())["request_id"] == "r1"  # the setup's line too


def test_pending_lines_are_bounded(setup_handler, monkeypatch):
    _, lines = setup_handler()
    monkeypatch.setattr(lines, "MAX_PENDING", 3)
    monkeypatch.setattr(lines, "_start", lambda: None)  # no writer: nothing drains them
    for n in range(5):
        edge.closed("/healthz", "GET", 200, None, f"r{n}", None)
    assert len(lines.pending) == 3 and lines.dropped == 2
