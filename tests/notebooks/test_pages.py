"""The three pages people read — report.html, compare.html, index.html — opened in headless Chromium: no
console errors, every image decodes, every navigation link has its target, nothing wider than 1280 px."""
import pytest

from browser import browser, check_page, close
from conftest import mqbench


@pytest.fixture(scope="module")
def pages(smoke_run, run_mqbench, tmp_path_factory):
    second = run_mqbench(smoke_run.parent / "second", grid_yaml="""
notebooks:
  - notebook: notebooks/pubsub.ipynb
    parameters: {shapes: ["64KB*50"], ops: 5, levels: [broker], nats_servers: [standalone], publish_modes: [strict]}
""")
    out = tmp_path_factory.mktemp("compare")
    proc = mqbench("compare", str(smoke_run), str(second), "--out", str(out), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == str(out / "compare.html")  # the path is printed last
    index = smoke_run.parent / "index.html"
    assert smoke_run.name in index.read_text() and second.name in index.read_text()  # both runs listed
    return {"report": smoke_run / "report.html", "compare": out / "compare.html", "index": index}


@pytest.fixture(scope="module")
def driver():
    d = browser()
    yield d
    close(d)


@pytest.mark.parametrize("name", ["report", "compare", "index"])
def test_page_reads_cleanly_in_a_real_browser(pages, driver, name):
    got = check_page(driver, pages[name])
    assert got["errors"] == [], got["errors"]
    assert got["broken_images"] == [] and got["dangling_links"] == []
    assert got["scroll_width"] <= got["window_width"], got  # wide tables scroll in their own box
    if name == "report":
        assert got["first_h2"] == "Findings" and got["nav_links"] >= 6 and got["images"] >= 3
