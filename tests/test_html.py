"""The HTML leaderboard: one self-contained page with contents, anchors, badges and sorting.

The page is checked as text here, and in headless Chromium (Debian's ``chromium`` with
``chromium-driver``, driven by selenium): a click on a header must reorder the rows. Where no
browser is installed that test is skipped, unless ``FRLBENCH_REQUIRE_BROWSER=1`` (set by
``.ci/run``) makes a missing browser a failure.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from frlbench.report.document import Heading, Image, Paragraph, Table
from frlbench.report.html import badge, to_html

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a2e3f3f20000000049454e44ae426082"
)


def _blocks() -> list:
    return [
        Heading("frlbench leaderboard", level=1),
        Heading("fluid3d — quick profile"),
        Paragraph("Trained at 16.", lead="Data:"),
        Table(
            "Main table",
            ["Backbone", "Params", "RMSE @64", "Label"],
            [
                ["cnn", "18.7k", "0.120 → 0.101", "degrades with resolution"],
                ["fno", "2.44M", "0.0950", "anchored → improves with resolution"],
                ["gnn", "53.3k", "—", "no skill"],
                ["tfno", "660k", "0.0800", "undetermined"],
            ],
            text=(0, 3),
        ),
        Heading("Figures", level=3),
        Image("figures/ratio", "RMSE_Ratio per backbone"),
        Heading("era5 — quick profile"),
    ]


def test_page_has_contents_anchors_badges_and_embeds_figures():
    page = to_html(_blocks(), lambda stem: PNG if stem == "figures/ratio" else None)
    ids = re.findall(r'<h[23] id="([^"]+)"', page)
    assert ids == ["fluid3d-quick-profile", "figures", "era5-quick-profile"]
    for anchor in ids:
        assert f'href="#{anchor}"' in page
    assert page.count('class="sortable"') == 1 and "position: sticky" in page
    assert "overflow: auto" in page
    assert '<span class="badge bad">degrades with resolution</span>' in page
    assert 'badge warn">anchored</span> → <span class="badge good">' in page
    assert 'src="data:image/png;base64,' in page
    # Self-contained: no file or network reference is left.
    assert not re.search(r'(src|href)="(?!data:|#)', page)


def test_a_missing_figure_is_linked_and_text_is_escaped():
    blocks = [Heading("<t>", level=1), Image("figures/x", "a & b")]
    page = to_html(blocks, lambda stem: None)
    assert 'src="figures/x.png"' in page and "a &amp; b" in page and "&lt;t&gt;" in page
    assert badge("") == "" and "badge muted" in badge("n/a: diverged")


def _chromium():
    """A headless Chromium driver, or the reason there is none."""
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and driver):
        return None, "Debian's chromium and chromium-driver are not installed"
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None, "selenium is not installed (pip install -e '.[test]')"
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=driver), options=options), ""


def test_chromium_sorts_a_column_on_click(tmp_path: Path):
    browser, reason = _chromium()
    if browser is None:
        if os.environ.get("FRLBENCH_REQUIRE_BROWSER") == "1":
            pytest.fail(f"the browser test must run here: {reason}")
        pytest.skip(reason)
    from selenium.webdriver.common.by import By

    page = tmp_path / "leaderboard.html"
    page.write_text(to_html(_blocks(), lambda stem: PNG))
    try:
        browser.get(page.as_uri())

        def column(index: int) -> list[str]:
            rows = browser.find_elements(By.CSS_SELECTOR, "table.sortable tbody tr")
            return [r.find_elements(By.TAG_NAME, "td")[index].text for r in rows]

        header = browser.find_elements(By.CSS_SELECTOR, "table.sortable thead th")
        header[1].click()  # Params: 18.7k < 53.3k < 660k < 2.44M
        assert column(0) == ["cnn", "gnn", "tfno", "fno"]
        header[1].click()
        assert column(0) == ["fno", "tfno", "gnn", "cnn"]
        header[2].click()  # RMSE: "—" sorts last either way
        assert column(0) == ["tfno", "fno", "cnn", "gnn"]
        header[2].click()
        assert column(0) == ["cnn", "fno", "tfno", "gnn"]
        assert header[2].get_attribute("aria-sort") == "descending"
        image = browser.find_element(By.CSS_SELECTOR, "figure img")
        assert browser.execute_script("return arguments[0].naturalWidth", image) == 1
    finally:
        browser.quit()
