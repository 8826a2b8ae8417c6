"""The HTML matrix page as a reviewer sees it: headless Chromium, one table set per style,
and a screenshot the test looks at. Skipped only where Chromium is not installed (.ci/run
installs it)."""

import pytest

from tests.serving import CHROMIUM, live_server, needs_chromium
from tests.serving import CHROMIUM_ARGS as ARGS

pytestmark = needs_chromium


@pytest.fixture
def live(app, api):
    with live_server(app) as base:
        yield base, api.key


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_matrix_page_shows_one_table_set_per_style(live, tmp_path):
    from playwright.sync_api import sync_playwright

    base, key = live
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(
            viewport={"width": 1280, "height": 800},
            extra_http_headers={"Authorization": f"Bearer {key}"},
        )
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/v1/policies/all/matrix?format=html")
        sections = page.locator("section.style")
        styles = ["pix4d", "respondio", "todo", "up42"]  # every shipped policy, by name
        assert sections.count() == len(styles)
        assert [sections.nth(i).get_attribute("data-style") for i in range(len(styles))] == styles
        for style, first_header in (
            ("pix4d", "owner"),
            ("up42", "admin"),
            ("respondio", "org_admin"),
        ):
            table = page.locator(f"table.matrix[data-style={style}]").first
            assert table.is_visible()
            assert table.locator("thead th").nth(1).inner_text() == first_header
        # UP42 Member may not buy credits; Admin may (UP42 "User management" table).
        row = page.locator("table.matrix[data-style=up42]").first.locator(
            "tr", has_text="buy_credits"
        )
        assert [c.inner_text() for c in row.locator("td").all()] == ["buy_credits", "✓", "—"]
        shot = tmp_path / "matrix.png"
        page.screenshot(path=str(shot), full_page=True)
        table_shot = tmp_path / "up42-table.png"
        page.locator("table.matrix[data-style=up42]").first.screenshot(path=str(table_shot))
        # Phone width: the tables scroll inside their box instead of breaking the page.
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
        browser.close()
    for path in (shot, table_shot):
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width > 100 and height > 100
    assert errors == []
