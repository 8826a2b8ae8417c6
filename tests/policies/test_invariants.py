"""Property tests of invariants every version of the policies must keep (hypothesis).

- In Pix4D a higher role can do everything a lower one can, on any resource, however deep.
- Nobody with no membership and no grant is allowed anything on an organization's resources,
  whatever the resource's place in the tree, attributes or owner.
"""

from hypothesis import given, settings
from hypothesis import strategies as st

from authz.engine import POLICY_DIR, PolicySet
from authz.view import MANAGEMENT_TYPES, level

POLICY = PolicySet(POLICY_DIR)
PIX4D = POLICY.engine("pix4d")
RANK = PIX4D.role_ranks


def resource_types(engine):
    return sorted(
        t
        for t, d in engine.types.items()
        if t not in MANAGEMENT_TYPES and t != "Organization" and d.permissions
    )


@st.composite
def chains(draw, engine):
    """A random chain under the organization: containers, then a resource of any type."""
    containers = [t for t in resource_types(engine) if t != "License"]
    depth = draw(st.integers(min_value=0, max_value=4))
    middle = [draw(st.sampled_from(containers)) for _ in range(depth)]
    last = draw(st.sampled_from(resource_types(engine)))
    attrs = {}
    for name in engine.attributes.get(last, ()):
        values = engine.attribute_values.get(last, {}).get(name, ["x"])
        attrs[name] = draw(st.sampled_from(values + ["other"]))
    return middle, last, attrs


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_pix4d_higher_role_can_do_all_a_lower_one_can(data):
    middle, last, attrs = data.draw(chains(PIX4D))
    lower, higher = sorted(
        data.draw(st.lists(st.sampled_from(sorted(RANK)), min_size=2, max_size=2, unique=True)),
        key=RANK.get,
    )
    grants = data.draw(
        st.lists(
            st.sampled_from(["reader", "editor", None]),
            min_size=len(middle) + 1,
            max_size=len(middle) + 1,
        )
    )

    def view(role):
        levels = [level("Organization", [role])]
        levels += [level(t, [g] if g else []) for t, g in zip(middle, grants)]
        levels.append(
            level(last, [grants[-1]] if grants[-1] and last != "License" else [], attributes=attrs)
        )
        return tuple(levels)

    for action in PIX4D.permissions(last):
        if PIX4D.is_allowed(action, view(lower)):
            assert PIX4D.is_allowed(action, view(higher)), (lower, higher, action, middle, last)
    for action in PIX4D.permissions("Organization"):
        if PIX4D.is_allowed(action, (level("Organization", [lower]),)):
            assert PIX4D.is_allowed(action, (level("Organization", [higher]),))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_no_membership_and_no_grant_allows_nothing(data):
    style = data.draw(st.sampled_from(POLICY.styles))
    engine = POLICY.engine(style)
    middle, last, attrs = data.draw(chains(engine))
    owned = data.draw(st.lists(st.booleans(), min_size=len(middle) + 1, max_size=len(middle) + 1))
    view = (
        (level("Organization"),)
        + tuple(level(t, owned=o) for t, o in zip(middle, owned))
        + (level(last, owned=owned[-1], attributes=attrs),)
    )
    for action in engine.permissions(last):
        assert not engine.is_allowed(action, view), (style, action, middle, last, owned)
    for action in engine.permissions("Organization"):
        assert not engine.is_allowed(action, (level("Organization"),))


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_run_of_bare_levels_answers_as_one(data):
    """authz.view.collapse: the policy's answer on the collapsed view is its answer on the
    full chain (asked of Polar directly, past the memo)."""
    from authz.view import ACTOR, collapse, to_polar

    style = data.draw(st.sampled_from(["pix4d", "respondio", "up42"]))
    engine = POLICY.engine(style)

    def under(parent):  # the types the policy lets sit in ``parent`` (as the API checks)
        return [t for t in resource_types(engine) if parent in engine.types[t].relations.values()]

    roles = engine.roles("Organization") + [None]
    org_role = data.draw(st.sampled_from(roles))
    middle, parent = [], "Organization"
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        kinds = [t for t in under(parent) if t != "License" and under(t)]
        if not kinds:
            break
        kind = data.draw(st.sampled_from(kinds))
        grant = data.draw(st.sampled_from([None, *engine.roles(kind)]))
        middle.append(level(kind, [grant] if grant else []))  # a level with facts, or bare
        if kind in under(kind):  # then a run of bare ones, where the type nests in itself
            middle += [level(kind)] * data.draw(st.integers(min_value=1, max_value=3))
        parent = kind
    if not middle:
        return
    last = data.draw(st.sampled_from(under(parent)))
    full = (level("Organization", [org_role] if org_role else []), *middle, level(last))
    short = collapse(list(full))
    assert len(short) <= len(full)
    action = data.draw(st.sampled_from(engine.permissions(last)))
    asked = [
        engine.oso.is_allowed(ACTOR, action, to_polar(v, engine.classes)) for v in (full, short)
    ]
    assert asked[0] == asked[1], (style, action, full, short)
