"""List-resources chooses, per subtree, between sorting its rows and walking the type's ids
in order (access/listing.py SORT_AT); both plans give the same pages."""

import pytest

from access import listing

PIX = "/v1/orgs/org-pix4d/resources"


def pages(api, actor: str, limit: int) -> list:
    ids, cursor = [], None
    while True:
        body = {"actor": {"id": actor}, "action": "view", "type": "Dataset", "org": "org-pix4d"}
        if cursor:
            body["cursor"] = cursor
        got = api.post(f"/v1/authorize/resources?limit={limit}", body).get_json()
        ids += [i["id"] for i in got["items"]]
        cursor = got["next_cursor"]
        if cursor is None:
            return ids


@pytest.mark.parametrize("sort_at", [1, 10**9])
def test_both_plans_list_the_same(api, demo, monkeypatch, sort_at):
    for i in range(30):
        parent = "pix4d-survey-2026" if i % 3 else "pix4d-survey"
        r = api.put(
            f"{PIX}/Dataset/ds-{i:02d}",
            {"parent": {"type": "Folder", "id": parent}},
            actor="pix4d-owner",
        )
        assert r.status_code == 201
    monkeypatch.setattr(listing, "SORT_AT", sort_at)
    everything = pages(api, "pix4d-member", 500)  # a reader grant on pix4d-survey
    assert len(everything) == 31 and everything == sorted(everything)
    assert pages(api, "pix4d-member", 4) == everything
    whole_org = pages(api, "pix4d-reader", 500)  # the org's reader: every dataset
    assert set(everything) < set(whole_org) and pages(api, "pix4d-reader", 7) == whole_org
