"""A policy is code the service runs: it may not run queries when it loads, and its rules may
read only the view they are shown, never walk from an object to its class, a module, a
function's globals or the builtins (the attack the console's diff page once allowed: a
.polar file written anywhere, loaded by a request, running OS commands)."""

import shutil

import pytest

from authz.engine import POLICY_DIR, PolicyError, PolicySet
from authz.view import level


def policy_with(tmp_path, extra: str):
    folder = tmp_path / "candidate"
    shutil.copytree(POLICY_DIR, folder)
    with open(folder / "pix4d.polar", "a") as f:
        f.write("\n" + extra + "\n")
    return folder


def test_an_inline_query_is_refused_at_load_naming_its_line(tmp_path):
    marker = tmp_path / "ran"
    folder = policy_with(tmp_path, f'?= x in [1] and x = 1 and "{marker}" = "{marker}";')
    with pytest.raises(PolicyError, match=r"inline query \(\?=\) at line \d+"):
        PolicySet(folder)


# From the Organization object to os.system: class -> base classes -> every subclass ->
# os._wrap_close -> its module's globals -> sys.modules -> os -> system(...).
ESCAPE = """
has_permission(_actor: User, "view_credits", org: Organization) if
    c in org.__class__.__mro__ and s in c.__subclasses__() and
    s.__name__ = "_wrap_close" and
    s.__init__.__globals__.sys.modules.os.system("touch {marker}") = 0;
has_permission(_actor: User, "view_audit", org: Organization) if
    org.__class__.__name__ = "Organization";
"""


def test_a_rule_cannot_leave_the_view(tmp_path):
    marker = tmp_path / "escaped"
    policy = PolicySet(policy_with(tmp_path, ESCAPE.format(marker=marker)))
    engine = policy.engine("pix4d")
    nobody = (level("Organization"),)  # no role: only the rules above could allow
    for action in ("view_credits", "view_audit"):
        try:
            allowed = engine.is_allowed(action, nobody)
        except Exception:  # an application error is a deny (access/decisions.py)
            allowed = False
        assert allowed is False
    assert not marker.exists()


def test_a_rule_reading_the_view_still_works(tmp_path):
    policy = PolicySet(POLICY_DIR)
    engine = policy.engine("pix4d")
    owner = (level("Organization", ["owner"]),)
    assert engine.is_allowed("close", owner)
    assert engine.is_allowed("use", owner + (level("License", attributes={"kind": "desktop"}),))
