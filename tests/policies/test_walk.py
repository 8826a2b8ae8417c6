"""authz.view.walk: the answer on [organization, parent holding its derived roles,
resource] is the policy's answer on the whole chain (asked of Polar directly, past every
memo), for every style and for a policy that reads ownership on nested folders; a policy
whose rules read further up than a parent is not walked."""

import shutil

from hypothesis import given, settings
from hypothesis import strategies as st

from authz.engine import POLICY_DIR, PolicySet
from authz.view import ACTOR, collapse, level, to_polar, walk

POLICY = PolicySet(POLICY_DIR)
OWNER_IS_EDITOR = """
has_role(actor: User, "editor", folder: Folder) if actor.owns(folder);
"""
READS_GRANDPARENT = """
has_role(actor: User, "reader", dataset: Dataset) if
    has_role(actor, "editor", dataset.parent.parent);
"""


def variant(tmp_path_factory, addition: str) -> PolicySet:
    folder = tmp_path_factory.mktemp("policies")
    shutil.copytree(POLICY_DIR, folder, dirs_exist_ok=True)
    pix4d = folder / "pix4d.polar"
    pix4d.write_text(pix4d.read_text() + addition)
    return PolicySet(folder)


def parents_of(engine, type_: str) -> list:
    """The types a resource of ``type_`` may sit in (its declared relations), as the service
    allows them (access/resources.py)."""
    decl = engine.types[type_]
    return sorted({t for t in decl.relations.values() if t != "Organization"})


@st.composite
def chains(draw, engine, reads_ownership: bool):
    """A chain as the service can store it: each level in a type its relations allow."""
    last = draw(st.sampled_from([t for t in ("Dataset", "Folder", "Site") if t in engine.types]))
    org_role = draw(st.sampled_from([None, *engine.roles("Organization")]))
    above, kind = [], last
    for _ in range(draw(st.integers(min_value=2, max_value=6))):
        allowed = parents_of(engine, kind)
        if not allowed:
            break
        kind = draw(st.sampled_from(allowed))
        above.append(kind)
    levels = [level("Organization", [org_role] if org_role else [])]
    for kind in reversed(above):
        grant = draw(st.sampled_from([None, None, *engine.roles(kind)]))
        owned = reads_ownership and draw(st.booleans())
        levels.append(level(kind, [grant] if grant else [], owned))
    levels.append(level(last, [], reads_ownership and draw(st.booleans())))
    return tuple(levels)


def agree(engine, full, data) -> None:
    short = walk(engine, collapse(list(full)))
    assert len(short) <= 3 or len(short) == len(collapse(list(full)))
    for action in data.draw(
        st.lists(st.sampled_from(engine.permissions(full[-1].type)), min_size=1, max_size=3)
    ):
        asked = [
            engine.oso.is_allowed(ACTOR, action, to_polar(v, engine.classes)) for v in (full, short)
        ]
        assert asked[0] == asked[1], (action, full, short)


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_walked_answers_are_the_whole_chains_answers(data):
    engine = POLICY.engine("pix4d")
    agree(engine, data.draw(chains(engine, False)), data)


def test_a_policy_reading_ownership_is_walked_exactly(tmp_path_factory):
    engine = variant(tmp_path_factory, OWNER_IS_EDITOR).engine("pix4d")
    assert engine.reads_ownership

    @settings(max_examples=60, deadline=None)
    @given(data=st.data())
    def check(data):
        agree(engine, data.draw(chains(engine, True)), data)

    check()


def test_a_policy_reading_past_the_parent_is_not_walked(tmp_path_factory):
    engine = variant(tmp_path_factory, READS_GRANDPARENT).engine("pix4d")
    view = (
        level("Organization", ["member"]),
        level("Folder", ["editor"]),
        level("Folder"),
        level("Folder", ["reader"]),
        level("Folder"),
        level("Dataset"),
    )
    assert walk(engine, view) == view  # shown whole: the rule reads two levels up


def test_every_stock_style_is_walkable():
    from authz.view import _walkable

    assert all(_walkable(POLICY.engine(s)) for s in POLICY.styles)
