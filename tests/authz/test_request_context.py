"""The engine's side of request context (authz/engine.py, authz/view.py): what a style
declares, what a rule is shown, what the memo keys on and how big it may grow, and the test
tables' ``context`` and ``like``."""

import shutil
from pathlib import Path

import pytest

from authz.engine import POLICY_DIR, Memo, PolicyError, PolicySet, asking, context_value
from authz.tables import TableError, load_table, run_table, table_path
from authz.view import ActorFacts, Node, RequestContext, build_view

POLICY = PolicySet(POLICY_DIR)
ALLOWLIST = ["203.0.113.0/24", "2001:db8::/32"]


def org_view(engine, role="owner", allowlist=ALLOWLIST):
    attributes = {"admin_ip_allowlist": allowlist} if allowlist is not None else {}
    chain = (Node("Organization", "o", None, None, attributes),)
    return build_view(engine, "u", chain, ActorFacts(True, role, {}))


@pytest.mark.parametrize(
    "style, top", [("pix4d", "owner"), ("up42", "admin"), ("respondio", "org_admin")]
)
def test_each_style_refuses_edits_of_settings_outside_the_allow_list(style, top):
    engine = POLICY.engine(style)
    assert engine.context_attributes == {"Organization": {"ip": "ip"}}
    view = org_view(engine, top)
    for context, allowed in [
        (None, False),
        ({"ip": "203.0.113.9"}, True),
        ({"ip": "2001:db8::5"}, True),
        ({"ip": "198.51.100.1"}, False),
    ]:
        with asking(context):
            assert engine.is_allowed("edit_details", view) is allowed, context
            assert engine.is_allowed("view", view) is True  # not an edit of settings
    with asking({"ip": "198.51.100.1"}):  # no list: the ip changes nothing
        assert engine.is_allowed("edit_details", org_view(engine, top, None)) is True
    with asking(None):
        assert engine.reasons("edit_details", view)[0].endswith("names no ip")
    with asking({"ip": "198.51.100.1"}):
        assert engine.reasons("edit_details", view)[0].endswith("is not in it")


def test_the_memo_keys_on_the_declared_attributes_of_the_type_only():
    engine = PolicySet(POLICY_DIR).engine("pix4d")  # a memo of its own
    view = org_view(engine)
    memo = engine.is_allowed
    with asking({"ip": "203.0.113.9"}):
        memo("edit_details", view)
    with asking({"ip": "198.51.100.1"}):
        memo("edit_details", view)
    keys = list(memo._entries)
    assert keys == [
        ("edit_details", view, (("ip", "203.0.113.9"),)),
        ("edit_details", view, (("ip", "198.51.100.1"),)),
    ]
    # A Dataset's rules read no context: checks with any ip share one entry, keyed as before.
    chain = (Node("Organization", "o"), Node("Dataset", "d", 1))
    dataset = build_view(engine, "u", chain, ActorFacts(True, "reader", {}))
    for ip in ("203.0.113.9", "198.51.100.1", None):
        with asking({"ip": ip} if ip else None):
            assert memo("view", dataset) is True
    assert list(memo._entries)[2:] == [("view", dataset)]


def test_the_memo_stays_bounded_in_bytes_whatever_the_context():
    engine = PolicySet(POLICY_DIR).engine("pix4d")
    memo = Memo(engine._is_allowed, max_bytes=20_000, context=engine.context_of)
    view = org_view(engine)
    for i in range(2000):
        with asking({"ip": f"10.{i // 250}.{i % 250}.1"}):
            memo("edit_details", view)
    assert memo.bytes <= 20_000
    assert 0 < len(memo) < 2000


def test_a_rule_sees_only_what_the_style_declares():
    context = RequestContext((("ip", "203.0.113.9"),))
    assert context.ip == "203.0.113.9"
    assert context.mfa is None  # not sent: nil
    assert context.ip_in(["203.0.113.0/24"]) is True
    assert context.ip_in(["198.51.100.0/24", "nonsense", 7]) is False
    assert context.ip_in(None) is False
    assert RequestContext().ip_in(["0.0.0.0/0"]) is False


@pytest.mark.parametrize(
    "kind, value, shown",
    [
        ("ip", "2001:DB8:0::1", "2001:db8::1"),
        ("ip", "203.0.113.9", "203.0.113.9"),
        ("boolean", False, False),
        ("integer", -4, -4),
        ("string", "eu", "eu"),
    ],
)
def test_context_values_are_shown_in_one_form(kind, value, shown):
    assert context_value(kind, value) == shown


@pytest.mark.parametrize(
    "kind, value",
    [
        ("ip", "10.0.0.0/8"),
        ("ip", 1),
        ("boolean", 1),
        ("integer", True),
        ("integer", 2**60),
        ("string", ""),
        ("string", 3),
    ],
)
def test_ill_typed_values_are_refused(kind, value):
    with pytest.raises(ValueError):
        context_value(kind, value)


def folder_with(tmp_path: Path, extra: str) -> Path:
    folder = tmp_path / "p"
    shutil.copytree(POLICY_DIR, folder)
    with open(folder / "todo.polar", "a") as f:
        f.write(extra)
    return folder


def test_a_declaration_of_an_unknown_kind_does_not_load(tmp_path):
    folder = folder_with(tmp_path, '\ncontext_attribute("Organization", "when", "date");\n')
    with pytest.raises(PolicyError, match="the kind is one of string, boolean, integer, ip"):
        PolicySet(folder)


def test_a_name_is_one_kind_in_every_style(tmp_path):
    folder = folder_with(tmp_path, '\ncontext_attribute("Organization", "ip", "string");\n')
    with pytest.raises(PolicyError, match="one kind per name"):
        PolicySet(folder)


def test_a_table_row_states_its_context_and_can_fail(tmp_path):
    engine = POLICY.engine("pix4d")
    table = load_table(table_path(POLICY_DIR, "pix4d"))
    assert run_table(engine, table).failures == []
    # The row inside the list, expected as the org: now said to be outside it.
    table["resources"]["org_ip_allowed"]["context"] = {"ip": "198.51.100.1"}
    failures = [str(f) for f in run_table(engine, table).failures]
    assert "pix4d: owner edit_details on org_ip_allowed: expected allow, got deny" in failures
    table["resources"]["org_ip_allowed"]["context"] = {"ip": "nope"}
    with pytest.raises(TableError, match="context.ip: an IPv4 or IPv6 address"):
        run_table(engine, table)
    table["resources"]["org_ip_allowed"]["context"] = {"mfa": True}
    with pytest.raises(TableError, match="the policy declares no context 'mfa'"):
        run_table(engine, table)
    table["resources"]["org_ip_allowed"]["context"] = {"ip": "203.0.113.7"}
    table["expect"]["org_ip_allowed"] = {"like": "org_ip_allowed"}
    with pytest.raises(TableError, match="like names 'org_ip_allowed'"):
        run_table(engine, table)
