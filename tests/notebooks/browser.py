"""Headless Chromium (Debian's ``chromium`` and ``chromedriver``, never a downloaded browser) for page tests."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WIDTH, HEIGHT = 1400, 900  # what a reader's laptop shows; the answer box must be inside it


def browser():
    """A Chrome driver on Debian's chromium, or a skip (a failure where ``MQBENCH_REQUIRE_BROWSER`` is set, as
    in CI, so a missing install is never silently skipped there)."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        message = "Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("MQBENCH_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="mqbench-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(WIDTH, HEIGHT)
    driver.profile_dir = profile
    return driver


def close(driver) -> None:
    driver.quit()
    shutil.rmtree(driver.profile_dir, ignore_errors=True)


def check_page(driver, path: Path) -> dict:
    """Open ``path``; return what a reader would trip over: console errors, undecodable images, navigation
    links without a target, and whether the page is wider than the window."""
    driver.get(path.resolve().as_uri())
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    broken_images = driver.execute_script(
        "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt)")
    dangling = driver.execute_script(
        "return Array.from(document.querySelectorAll('a[href^=\"#\"]'))"
        ".filter(a => !document.getElementById(a.getAttribute('href').slice(1))).map(a => a.getAttribute('href'))")
    widths = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    images = driver.execute_script("return document.images.length")
    nav = driver.execute_script("return document.querySelectorAll('nav a').length")
    first_heading = driver.execute_script(
        "const h = document.querySelector('h2'); return h ? h.textContent : ''")
    answer = driver.execute_script(
        "const a = document.getElementById('the-answer') || document.getElementById('answer');"
        "if (!a) return null; const t = a.nextElementSibling && a.nextElementSibling.nextElementSibling;"
        "return [a.getBoundingClientRect().top, t ? t.getBoundingClientRect().top : null, window.innerHeight]")
    overflowing = driver.execute_script(
        "return Array.from(document.querySelectorAll('figure, table, p, nav, h1, h2'))"
        ".filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > window.innerWidth + 1)"
        ".map(e => e.tagName + ': ' + e.textContent.slice(0, 60))")
    dotzero = driver.execute_script(
        "return Array.from(document.querySelectorAll('td')).map(td => td.textContent.trim())"
        ".filter(t => /^-?\\d{1,3}(,\\d{3})+\\.0+$/.test(t))")  # "100,000.000": a count shown as a float
    return {"errors": errors, "broken_images": broken_images, "dangling_links": dangling, "scroll_width": widths[0],
            "window_width": widths[1], "images": images, "nav_links": nav, "first_h2": first_heading,
            "answer": answer, "overflowing": overflowing, "integers_with_decimals": dotzero}


def layout(driver, path: Path, width: int, height: int = HEIGHT) -> dict:
    """Open ``path`` in a ``width`` × ``height`` viewport; return where the answer is and what does not fit: the answer
    table's top and bottom, the page's content height before its first collapsed section, the host line's top,
    elements wider than the window (a scroll container's content excepted: it scrolls, it is not cut) and the page's
    scroll width."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",  # the viewport itself, without a window's chrome
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    driver.get(path.resolve().as_uri())
    got = driver.execute_script("""
        const answer = document.getElementById('the-answer') || document.getElementById('answer');
        let table = null;
        for (let e = answer; e && !table; e = e.nextElementSibling)
            table = e.tagName === 'TABLE' ? e : e.querySelector('table');
        const box = e => e ? e.getBoundingClientRect() : null;
        const details = document.querySelector('details');
        const host = Array.from(document.querySelectorAll('p, li, .meta')).find(e => /logical cores/.test(e.textContent));
        const cut = Array.from(document.querySelectorAll('table, figure, img, p, h1, h2, h3, nav'))
            .filter(e => !e.closest('.scroll') && !e.closest('details:not([open])')
                    && e.getBoundingClientRect().right > window.innerWidth + 1)
            .map(e => e.tagName + ': ' + e.textContent.trim().slice(0, 60));
        return {answer_top: answer ? box(answer).top : null, table_top: table ? box(table).top : null,
                table_bottom: table ? box(table).bottom : null, inner_height: window.innerHeight,
                before_details: details ? box(details).top + window.scrollY : document.body.scrollHeight,
                host_top: host ? box(host).top : null, cut: cut,
                scroll_width: document.documentElement.scrollWidth, inner_width: window.innerWidth};
    """)
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return got


def broken_links(driver, path: Path) -> list[str]:
    """Links of the page at ``path`` to local files that do not exist (web links are not followed: no network)."""
    driver.get(path.resolve().as_uri())
    hrefs = driver.execute_script("return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    local = [h.split("#")[0] for h in hrefs if h.startswith("file://")]
    return sorted({h for h in local if not Path(h[len("file://"):]).exists()})
