"""The published book, as a reader's browser shows it (issue 14), and every notebook executed
in the quick profile (issue 13).

One session fixture runs ``mfderive run-notebooks --profile quick`` — papermill over every
notebook, two at a time, the report, the generated pages and the Jupyter Book build with
``-W -n --keep-going`` — exactly what ``make book`` does.  Then:

* one test per notebook: it was verified (executed, recorded checks, all passed);
* headless Chromium (the Debian ``chromium``, driven by Playwright through
  ``executable_path``; Playwright's own browser download is not reachable here) opens the
  built pages and checks that every chapter of ``_toc.yml`` exists, MathJax rendered (at
  least one ``mjx-container``, no ``merror``) on the derivations page and on each theory
  chapter, internal links resolve to files of the build, the report page has one row per
  check of ``_build/report.json``, and no page requests anything from outside the book.

Set ``MFDERIVE_BOOK_BUILT=1`` to reuse an existing ``_build`` (after ``make book``) instead
of rebuilding.  Without Chromium or Playwright the browser tests are skipped, except under
CI (``CI=true``), where the set-up (``make test``) installs both and a skip would hide a gap.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
REPORT = ROOT / "_build" / "report.json"
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))

pytestmark = pytest.mark.book


def _toc_files() -> list[str]:
    yaml = pytest.importorskip("yaml")
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                files.append(e["file"])
            walk(e.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


@pytest.fixture(scope="session")
def book_run():
    """Run the notebooks and build the book once; return (exit status, output, report)."""
    if os.environ.get("MFDERIVE_BOOK_BUILT") == "1" and REPORT.exists() and (HTML / "index.html").exists():
        return 0, "(reused the existing build) book built:", json.loads(REPORT.read_text(encoding="utf-8"))
    if not (ROOT / "book" / "_static" / "mathjax" / "tex-mml-chtml.js").exists():
        pytest.fail("MathJax is missing from book/_static/mathjax: run `make test` (or `make book`), "
                    "which fetch it from npm")
    shutil.rmtree(HTML, ignore_errors=True)
    proc = subprocess.run([sys.executable, "-m", "mfderive", "run-notebooks", "--profile", "quick", "-j", "2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=1500)
    out = proc.stdout + proc.stderr
    report = json.loads(REPORT.read_text(encoding="utf-8")) if REPORT.exists() else {"notebooks": [], "checks": []}
    return proc.returncode, out, report


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_is_verified_in_the_quick_profile(book_run, notebook):
    _, out, report = book_run
    entry = next((n for n in report["notebooks"] if n["notebook"] == notebook), None)
    assert entry is not None, f"{notebook} did not run:\n{out[-4000:]}"
    assert entry["verified"], f"{notebook}: {entry['reason']}"


def test_book_builds_without_warnings(book_run):
    status, out, _ = book_run
    assert status == 0, out[-6000:]
    assert "book built:" in out
    # -W turns every Sphinx warning into a failed build; say which, should one appear
    assert "build finished with problems" not in out, [ln for ln in out.splitlines() if "WARNING:" in ln][:20]


# -- in the browser ---------------------------------------------------------------------


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def browser(book_run):
    status, out, _ = book_run
    if status != 0:
        pytest.fail("the book did not build:\n" + out[-3000:])
    exe = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    missing = [what for what, ok in (("chromium", exe), ("playwright", sync_playwright)) if not ok]
    if missing:
        msg = f"{' and '.join(missing)} not installed (`make test` installs them)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


class Page:
    """A page as loaded in the browser: the requests it made and its DOM, after MathJax."""

    def __init__(self, browser, path: Path):
        self.path = path
        page = browser.new_page()
        self.requests = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.goto(path.as_uri())
        # wait for MathJax 3 to finish typesetting, where the page loads it
        page.wait_for_function("() => !window.MathJax || (window.MathJax.startup && window.MathJax.startup.promise)",
                               timeout=30000)
        page.evaluate("() => window.MathJax && window.MathJax.startup ? window.MathJax.startup.promise : null")
        self.mjx = page.locator("mjx-container").count()
        self.merror = page.locator("merror").count() + page.locator("mjx-merror").count()
        self.links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        self.report_rows = page.locator("table tbody tr").count()
        self.text = page.inner_text("body")
        page.close()


_PAGES: dict[str, Page] = {}


def load(browser, doc: str) -> Page:
    if doc not in _PAGES:
        _PAGES[doc] = Page(browser, HTML / f"{doc}.html")
    return _PAGES[doc]


@pytest.mark.parametrize("doc", _toc_files())
def test_every_toc_chapter_exists_and_loads_nothing_from_outside(browser, doc):
    assert (HTML / f"{doc}.html").is_file(), f"{doc} is in _toc.yml but was not built"
    page = load(browser, doc)
    outside = [u for u in page.requests if urlparse(u).scheme not in ("file", "data", "about", "blob")]
    assert not outside, outside


MATH_PAGES = ["book/derivations", "book/errata"] + [f for f in _toc_files() if f.startswith("book/theory/")]


@pytest.mark.parametrize("doc", MATH_PAGES)
def test_mathjax_rendered(browser, doc):
    page = load(browser, doc)
    assert page.mjx > 0, f"no mjx-container on {doc}: MathJax did not render"
    assert page.merror == 0, f"{page.merror} MathJax errors on {doc}"


@pytest.mark.parametrize("doc", _toc_files())
def test_internal_links_resolve(browser, doc):
    page = load(browser, doc)
    here = (HTML / f"{doc}.html").parent
    broken = []
    for href in page.links:
        url = urlparse(href)
        if url.scheme in ("http", "https", "mailto", "javascript") or not url.path:
            continue  # external links are not followed (nothing is loaded from them); "#x" stays on the page
        target = (here / unquote(url.path)).resolve()
        if not target.exists():
            broken.append(href)
    assert not broken, broken


def test_report_page_has_one_row_per_check(browser, book_run):
    _, _, report = book_run
    page = load(browser, "book/report")
    coverage_rows = len(report.get("coverage") or {})
    assert page.report_rows == len(report["checks"]) + coverage_rows
    assert f"{len(report['checks'])} checks" in page.text


def test_no_page_names_a_seed_file():
    """Works are cited by author and year; no page of the book names a source file."""
    offenders = []
    for src in list((ROOT / "book").rglob("*.md")) + list((ROOT / "notebooks").glob("*.ipynb")):
        text = src.read_text(encoding="utf-8")
        if re.search(r"\bseeds?/|\bseed[ _]?\d{3}\b", text, re.I):
            offenders.append(str(src.relative_to(ROOT)))
    assert not offenders, offenders
