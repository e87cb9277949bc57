"""report.html: one self-contained file, checked as text and rendered in real headless Chromium (Selenium).

The browser test is marked `browser` but is not skipped: without chromium and chromedriver it fails and
says how to install them (`bash scripts/setup.sh test`), so a missing browser cannot hide a broken report.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest
from test_tables import OTHER, STUDENT, make_results

from baldistill.report.html import write_report

METHODS = ("zero-shot", "random-ft-cot", "baldistill-a")


@pytest.fixture
def report(tmp_path):
    """A report over 3 methods × 3 seeds × K in {3, 5} × 2 budgets × 2 students with intervals: 7 tables (main,
    per domain, paired differences, K sweep, cost–quality frontier, students and budgets, appendix) and 5 plots
    (with the frontier)."""
    make_results(tmp_path, methods=METHODS, stages=(3, 5), budgets=(96, 200), students=(STUDENT, OTHER), intervals=True)
    return write_report(tmp_path)


def test_report_is_self_contained_and_writes_missing_outputs(report):
    folder = report.parent
    assert (folder / "table.md").exists() and (folder / "table_generalization.md").exists()
    assert len(list((folder / "plots").glob("*.png"))) == 5
    page = report.read_text()
    assert not re.search(r"(src|href)=\"(?!data:)", page) and "http://" not in page and "https://" not in page
    assert page.count("<table>") == 7 and page.count('src="data:image/png;base64,') == 5
    assert "|---" not in page and "**" not in page  # real HTML, not pasted markdown


def test_text_is_escaped(tmp_path):
    make_results(tmp_path)
    data = json.loads((tmp_path / "results.json").read_text())
    data["spec"]["config"] = "<script>alert(1)</script>&.yaml"
    (tmp_path / "results.json").write_text(json.dumps(data))
    page = write_report(tmp_path).read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;&amp;.yaml" in page


def start_chromium():
    """Headless Chromium through the system chromedriver (Selenium Manager is never asked to download);
    fails, naming the set-up command, when either is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.fail(
            "chromium and chromedriver are needed for the report test: run `bash scripts/setup.sh test` "
            f"(found chromium={chromium}, chromedriver={driver_path})",
            pytrace=False,
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
    ):
        opts.add_argument(arg)
    return webdriver.Chrome(options=opts, service=Service(executable_path=driver_path))


@pytest.mark.browser
def test_report_renders_in_chromium(report):
    browser = start_chromium()
    try:
        _check_rendered(browser, report)
    finally:
        browser.quit()


def _check_rendered(browser, report) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(report.as_uri())
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    tables = browser.find_elements(By.TAG_NAME, "table")
    assert len(tables) == 7
    titles = [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
    assert titles[:6] == [
        "Main comparison",
        "Per domain",
        "Paired differences",
        "Sensitivity to the number of stages K",
        "Cost–quality frontier",
        "Student models and budgets",
    ]
    frontier_rows = [
        [td.text for td in tr.find_elements(By.TAG_NAME, "td")[:3]]
        for tr in tables[4].find_elements(By.CSS_SELECTOR, "tbody tr")
    ]
    assert frontier_rows == [
        ["96", "random-ft-cot", "96"],
        ["96", "baldistill-a", "96"],
        ["200", "random-ft-cot", "200"],
        ["200", "baldistill-a", "200"],
    ]  # zero-shot spends nothing
    headers = [th.text for th in tables[0].find_elements(By.TAG_NAME, "th")]
    assert headers == ["method", "demo macro", "demo micro", "demo head", "demo tail"]
    first_cells = [
        tr.find_element(By.TAG_NAME, "td").text for tr in tables[0].find_elements(By.CSS_SELECTOR, "tbody tr")
    ]
    assert first_cells == list(METHODS)
    assert tables[0].find_elements(By.TAG_NAME, "b")  # the best of each column is bold
    cells = {
        tr.find_element(By.TAG_NAME, "td").text: [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
        for tr in tables[0].find_elements(By.CSS_SELECTOR, "tbody tr")
    }
    assert cells["baldistill-a"][1] == "31.0 [29.0, 34.0]"  # mean [lo, hi] from results.json's intervals
    diffs = [
        [td.text for td in tr.find_elements(By.TAG_NAME, "td")[:2]]
        for tr in tables[2].find_elements(By.CSS_SELECTOR, "tbody tr")
    ]
    assert len(diffs) == 2 * 2 * 2 * 2  # two methods against random-ft-cot at every student, budget and K
    assert diffs[:2] == [
        ["zero-shot − random-ft-cot", f"student = {STUDENT}, B = 96, K = 3"],
        ["baldistill-a − random-ft-cot", f"student = {STUDENT}, B = 96, K = 3"],
    ]  # the default first
    assert "Appendix" in browser.find_element(By.TAG_NAME, "body").text
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight]);"
    )
    assert [alt for alt, *_ in images] == ["per_domain", "stages", "spend", "stage_sweep", "frontier"]  # reading order
    assert all(done and w > 0 and h > 0 for _, done, w, h in images), images
    frontier = browser.find_element(By.CSS_SELECTOR, 'img[alt="frontier"]')
    assert frontier.is_displayed() and frontier.size["width"] > 300  # drawn on the page, not only decodable
