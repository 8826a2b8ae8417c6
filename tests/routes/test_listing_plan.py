"""List-resources chooses, per subtree, between sorting its rows, reading each of its folders
in id order and merging, and walking the type's ids in order (access/listing.py SORT_AT,
MAX_RUNS); every plan gives the same pages."""

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


@pytest.mark.parametrize(
    "sort_at, max_runs", [(10**9, 64), (1, 64), (1, 0)], ids=["sort", "runs", "walk"]
)
def test_every_plan_lists_the_same(api, demo, monkeypatch, sort_at, max_runs):
    for i in range(30):
        parent = "pix4d-survey-2026" if i % 3 else "pix4d-survey"
        r = api.put(
            f"{PIX}/Dataset/ds-{i:02d}",
            {"parent": {"type": "Folder", "id": parent}},
            actor="pix4d-owner",
        )
        assert r.status_code == 201
    monkeypatch.setattr(listing, "SORT_AT", sort_at)
    monkeypatch.setattr(listing, "MAX_RUNS", max_runs)
    everything = pages(api, "pix4d-member", 500)  # a reader grant on pix4d-survey
    assert len(everything) == 31 and everything == sorted(everything)
    assert pages(api, "pix4d-member", 4) == everything
    whole_org = pages(api, "pix4d-reader", 500)  # the org's reader: every dataset
    assert set(everything) < set(whole_org) and pages(api, "pix4d-reader", 7) == whole_org
