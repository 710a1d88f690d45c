"""Every published run in reports/ rebuilds its report from its summary.parquet and manifest.json alone."""
import shutil
from pathlib import Path

import pandas as pd
import pytest
from mqbench.run import render

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = sorted(p.parent for p in (ROOT / "reports").glob("*/manifest.json"))


def test_reports_folder_has_an_index_listing_every_published_run():
    if not PUBLISHED:
        pytest.skip("no published runs")
    index = (ROOT / "reports" / "index.html").read_text()
    assert all(run.name in index for run in PUBLISHED)


@pytest.mark.parametrize("run", PUBLISHED, ids=lambda p: p.name)
def test_published_report_rebuilds_from_summary_and_manifest(run, tmp_path):
    assert sorted(p.name for p in run.iterdir()) == ["manifest.json", "report.html", "summary.parquet"]
    copy = tmp_path / run.name
    copy.mkdir()
    for name in ("manifest.json", "summary.parquet"):
        shutil.copy2(run / name, copy / name)
    html = render.build(copy).read_text()
    assert 'id="the-answer"' in html and 'id="findings"' in html
    if "search_query" in set(pd.read_parquet(run / "summary.parquet")["notebook"]):
        assert "data:image/png;base64" in html


@pytest.fixture(scope="module")
def driver():
    from browser import browser, close

    d = browser()
    yield d
    close(d)


@pytest.mark.parametrize("page", [ROOT / "reports" / "index.html", *(run / "report.html" for run in PUBLISHED)],
                         ids=lambda p: p.parent.name if p.name == "report.html" else "index")
def test_published_page_answers_on_its_first_screen(driver, page):
    from browser import check_page

    got = check_page(driver, page)
    assert got["errors"] == [] and got["broken_images"] == [] and got["dangling_links"] == [], got
    assert got["scroll_width"] <= got["window_width"] and got["overflowing"] == [], got
    assert got["integers_with_decimals"] == [], got["integers_with_decimals"][:10]
    top, table_top, height = got["answer"]
    assert top < height and table_top is not None and table_top < height, got["answer"]


SCREENS_BEFORE_DETAILS = 4  # the decision rows' screen and at most three more, at 1400×900, before the details


@pytest.mark.parametrize("width", [1400, 420])
@pytest.mark.parametrize("page", [ROOT / "reports" / "index.html", *(run / "report.html" for run in PUBLISHED)],
                         ids=lambda p: p.parent.name if p.name == "report.html" else "index")
def test_the_first_screen_answers_at_a_laptops_and_a_phones_width(driver, page, width):
    from browser import HEIGHT, layout

    got = layout(driver, page, width)
    assert got["cut"] == [] and got["scroll_width"] <= got["inner_width"], got
    assert got["answer_top"] is not None and 0 <= got["answer_top"] < got["inner_height"], got
    if width >= 1400:  # every decision row on the first screen, the host too on the index
        assert got["table_bottom"] <= HEIGHT, got
        if page.name == "index.html":
            assert got["host_top"] is not None and got["host_top"] < HEIGHT, got
        assert got["before_details"] <= SCREENS_BEFORE_DETAILS * HEIGHT, got


def test_every_local_link_of_the_index_and_the_reports_opens(driver):
    from browser import broken_links

    pages = [ROOT / "reports" / "index.html", *(run / "report.html" for run in PUBLISHED)]
    broken = {p.parent.name: broken_links(driver, p) for p in pages}
    assert not any(broken.values()), broken
