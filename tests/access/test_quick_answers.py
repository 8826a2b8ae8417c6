"""A worker's known answers found by the question as asked (access/shared.py ``quick``): the
same answer the search through the maps finds, and nothing that search no longer finds."""

from access.cache import FactCache
from access.shared import SharedFacts
from authz.view import Node, OrgRef, Target

V = "policy-1"


def _cache_with_answer(org_id: str = "a", rid: str = "f-1"):
    """A cache where ``ann`` was answered "view" on Folder ``rid`` of ``org_id`` (registered
    there, and found by a check naming no org)."""
    cache = FactCache()
    facts = SharedFacts(cache, cache.epoch, 0)
    org = OrgRef(org_id, "pix4d")
    target = Target(org, (Node("Organization", org_id), Node("Folder", rid)))
    facts.put_target((org_id, "Folder", rid), target)
    facts.put_owner_org("Folder", rid, org_id)
    answer = (True, "allowed by the policy", target, "pix4d")
    facts.put_answer("ann", org_id, (V, "view", None, "Folder", rid), answer)
    return cache, answer


def _asked(cache, org=None, user="ann", rid="f-1"):
    return SharedFacts(cache, cache.epoch, cache.position).answer(
        user, (V, "view", org, "Folder", rid)
    )


def test_a_known_answer_is_found_by_the_question_as_asked_again():
    cache, answer = _cache_with_answer()
    for _ in range(2):  # the search, then what it kept
        assert _asked(cache) is answer
        assert _asked(cache, org="a") is answer
    assert _asked(cache, org="b") is None  # another org's name finds nothing, kept or not
    assert _asked(cache, user="bob") is None
    assert _asked(cache, rid="f-2") is None


def test_a_notice_for_the_organization_drops_what_was_found_there():
    cache, _ = _cache_with_answer()
    assert _asked(cache) is not None and _asked(cache, org="a") is not None
    cache.apply({"g": 1, "o": ["a"]})
    assert _asked(cache) is None
    assert _asked(cache, org="a") is None


def test_another_organizations_notice_keeps_it():
    cache, answer = _cache_with_answer()
    assert _asked(cache) is answer
    cache.apply({"g": 1, "o": ["b"]})
    assert _asked(cache) is answer


def test_a_notice_for_the_user_drops_their_answers():
    cache, _ = _cache_with_answer()
    assert _asked(cache, org="a") is not None
    cache.apply({"g": 1, "u": ["ann"]})
    assert _asked(cache, org="a") is None
    assert _asked(cache) is None


def test_a_registration_anywhere_drops_what_a_check_naming_no_org_found():
    cache, answer = _cache_with_answer()
    assert _asked(cache) is answer and _asked(cache, org="a") is answer
    cache.apply({"g": 1, "n": True, "o": ["c"]})  # f-1 may now be c's too: ambiguous
    assert _asked(cache) is None
    assert _asked(cache, org="a") is answer  # named, a's own facts still answer


def test_what_a_notice_dropped_meanwhile_is_not_kept():
    cache, answer = _cache_with_answer()
    started = SharedFacts(cache, cache.epoch, 0)
    found = started._search("ann", (V, "view", None, "Folder", "f-1"))
    assert found is answer
    cache.apply({"g": 1, "o": ["a"]})  # dropped after the search, before it is kept
    started._keep_quick("ann", (V, "view", None, "Folder", "f-1"), found)
    assert _asked(cache) is None


def test_a_replaced_answer_is_the_one_found():
    cache, answer = _cache_with_answer()
    assert _asked(cache) is answer
    facts = SharedFacts(cache, cache.epoch, cache.position)
    newer = (False, "denied by the policy", answer[2], "pix4d")
    facts.put_answer("ann", "a", (V, "view", None, "Folder", "f-1"), newer)
    assert _asked(cache) is newer
    assert _asked(cache, org="a") is newer


def test_the_whole_cache_starting_over_drops_them():
    cache, _ = _cache_with_answer()
    assert _asked(cache) is not None
    cache.apply({"g": 1, "all": True})
    assert _asked(cache) is None


def test_a_resource_found_registered_elsewhere_drops_what_was_found_by_it():
    cache, _ = _cache_with_answer()
    assert _asked(cache) is not None
    SharedFacts(cache, cache.epoch, cache.position).put_owner_org("Folder", "f-1", "b")
    assert _asked(cache) is None


def test_what_it_keeps_counts_towards_the_caches_bound(monkeypatch):
    import access.cache

    cache, answer = _cache_with_answer()
    monkeypatch.setattr(access.cache, "MAX_ENTRIES", cache.entries)  # full: one more starts over
    assert _asked(cache) is answer  # found, and kept: the store past the bound
    assert _asked(cache) is None  # everything started over
