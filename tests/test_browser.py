"""The reader's book in a real browser: headless Chromium, driven by Selenium, on the smoke book.

The book built by the session's ``smoke_book`` fixture (conftest.py, shared with test_book.py)
is served on 127.0.0.1 and every page a reader meets is opened: the introduction, the
scoreboard, the performance, teaching and re-run pages, the instructor appendix, the references
and every chapter. Each page is checked as rendered (title, no error output, tables, figures
that actually loaded, the chapters' one table of parameters and run manifest, folded solutions), then
every internal link of every page is followed (target served, #anchor present on it).

Chromium and ChromeDriver come from the system packages (``chromium``, ``chromium-driver`` on
Debian/Ubuntu); `make test` installs them when they are missing and it runs as root. Without
them this test fails, unless ``PRECMED_SKIP_BROWSER=1`` is set. Selenium is given both paths, so
Selenium Manager never downloads a browser or a driver (``SE_OFFLINE`` is set as well).
"""

import functools
import html.parser
import http.server
import json
import os
import re
import shutil
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from helpers import ROOT

from precmed_utils.studies import implemented_studies, notebook_path
from precmed_utils.tools import teaching

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("PRECMED_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("PRECMED_CHROMEDRIVER", "/usr/bin/chromedriver")
# without the background-networking flags, Chromium stalls on a machine with no internet
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,1024"]

PAGES = ["book/intro", "book/rerun", "book/teaching", "book/scoreboard", "book/performance",
         "book/instructor", "book/references"]
CHAPTERS = [f"book/studies/{s}" for s in implemented_studies()]

# Everything the page shows a reader, read in one go in the browser.
READ_PAGE = """
const main = document.querySelector('main') || document.body;
const shown = e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
const tables = Array.from(main.querySelectorAll('table'));
const injected = Array.from(document.querySelectorAll('.tag_injected-parameters'));
const manifest = tables.filter(t => /git commit/.test(t.innerText) && /version: /.test(t.innerText));
const solutions = Array.from(main.querySelectorAll('.admonition.dropdown')).filter(
    a => /^Solution/.test((a.querySelector('.admonition-title') || {}).textContent || ''));
return {
  url: location.href,
  title: document.title,
  h1: Array.from(main.querySelectorAll('h1')).map(h => h.innerText.trim()).filter(Boolean),
  errors: Array.from(document.querySelectorAll(
      '.output.stderr, .output.error, .output.traceback, .cell_output .traceback, .system-message'))
      .map(e => e.className + ': ' + e.innerText.slice(0, 300)),
  traceback: document.body.innerText.includes('Traceback (most recent call last)'),
  tables: tables.filter(shown).length,
  images: Array.from(main.querySelectorAll('img')).map(
      i => ({src: i.currentSrc || i.src, loaded: i.complete && i.naturalWidth > 0})),
  injected: injected.filter(shown).map(e => e.innerText),
  parameter_tables: tables.filter(
      t => /value in this run/.test(t.innerText) && /notebook default/.test(t.innerText)).length,
  manifest: manifest.filter(shown).length,
  solutions: solutions.length,
  solutions_open: solutions.filter(a => Array.from(a.children).some(
      c => !c.classList.contains('admonition-title') && !c.classList.contains('toggle-button') && shown(c)
  )).length,
  shown_solutions: Array.from(main.querySelectorAll('.admonition.tip')).filter(a => shown(a) &&
      /^Solution/.test((a.querySelector('.admonition-title') || {}).textContent || '')).length,
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  text: main.innerText,
};
"""

# Waits until every image has loaded or failed (lazy images are made eager first).
WAIT_IMAGES = """
const done = arguments[arguments.length - 1];
const imgs = Array.from(document.images);
imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
Promise.all(imgs.map(i => i.complete ? null : new Promise(r => {
  i.addEventListener('load', r); i.addEventListener('error', r);
}))).then(() => done(imgs.length));
"""


def _browser_missing() -> list[str]:
    return [p for p in (CHROMIUM, CHROMEDRIVER) if not (shutil.which(p) or Path(p).is_file())]


@pytest.fixture(scope="session")
def browser():
    if os.environ.get("PRECMED_SKIP_BROWSER") == "1":
        pytest.skip("PRECMED_SKIP_BROWSER=1: the browser test is skipped on request")
    missing = _browser_missing()
    if missing:
        pytest.fail(f"the browser test needs Chromium and ChromeDriver, missing: {', '.join(missing)}. "
                    "Install them with `sudo apt-get install chromium chromium-driver` (`make test` "
                    "does it when run as root), point PRECMED_CHROMIUM / PRECMED_CHROMEDRIVER at "
                    "yours, or set PRECMED_SKIP_BROWSER=1 to skip this test.", pytrace=False)
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not go to the network
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="precmed-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site(browser, smoke_book):
    """The built book served on 127.0.0.1 (a free port), in a thread; its base URL."""
    _, index = smoke_book
    handler = functools.partial(_QuietHandler, directory=str(index.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture(scope="session")
def pages(browser, site):
    """Every page a reader meets, opened in the browser: {page: what it shows}."""
    out = {}
    for page in [*PAGES, *CHAPTERS]:
        browser.get(site + page + ".html")
        browser.execute_async_script(WAIT_IMAGES)
        out[page] = browser.execute_script(READ_PAGE)
    return out


def test_the_front_page_opens_the_introduction(browser, site):
    browser.get(site)
    assert browser.current_url.endswith("book/intro.html"), browser.current_url
    assert "precmed" in browser.title


def test_every_page_has_a_title_and_no_error_output(pages):
    for page, p in pages.items():
        assert p["title"].strip() and p["h1"], f"{page}: no title"
        assert not p["errors"], f"{page}: error output on the page: {p['errors'][:3]}"
        assert not p["traceback"], f"{page}: a traceback is shown"
        broken = [i["src"] for i in p["images"] if not i["loaded"]]
        assert not broken, f"{page}: images that did not load: {broken}"


def test_chapters_show_tables_figures_parameters_and_manifest(pages):
    for page in CHAPTERS:
        p = pages[page]
        assert p["tables"] >= 1, f"{page}: no table rendered"
        assert any(i["loaded"] for i in p["images"]), f"{page}: no figure rendered"
        assert p["parameter_tables"] == 1 and not p["injected"], (
            f"{page}: the run's parameters are not shown once, as one table")
        assert p["manifest"] >= 1, f"{page}: the run manifest table (git commit, versions) is not shown"
        assert "sha256" in p["text"], f"{page}: the data's files and checksums are not shown"
        for debris in ("NBVAL", "PosixPath", "CLAIMS.md", "PAPERS.md", "reading notes", "[V2]"):
            assert debris not in p["text"], f"{page}: bookkeeping or repository jargon shown: {debris!r}"
        name = page.rsplit("/", 1)[1]
        assert any(h.endswith(f"/{name}.ipynb") and "_downloads" in h for h in p["links"]), (
            f"{page}: no download link to the chapter's source notebook")


def test_chapters_end_with_exercises_and_folded_solutions(pages):
    for page in CHAPTERS:
        p = pages[page]
        n = len(teaching.exercises_of(json.loads(notebook_path(page.rsplit("/", 1)[1]).read_text())))
        assert "Exercises" in p["text"], f"{page}: no Exercises section"
        assert p["solutions"] == n, f"{page}: {p['solutions']} solutions for {n} exercises"
        assert p["solutions_open"] == 0, f"{page}: a solution is shown before the reader opens it"


def test_teaching_pages(pages):
    appendix = pages["book/instructor"]
    total = 0
    for sid in implemented_studies():
        total += len(teaching.exercises_of(json.loads(notebook_path(sid).read_text())))
        assert f"studies/{sid}.html" in " ".join(appendix["links"]), f"appendix: no link back to {sid}"
    assert appendix["shown_solutions"] == total, "the appendix shows every solution, unfolded"
    assert appendix["solutions"] == 0
    guide = pages["book/teaching"]
    assert guide["tables"] >= 2, "the topics table and the run-time tiers table"
    assert "Measured on" in guide["text"] and teaching.TIERS_PLACEHOLDER not in guide["text"]
    escaped = sorted({h for p in pages.values() for h in p["links"] if "&amp;" in h})
    assert not escaped, f"links whose '&' was escaped twice (MyST-Parser issue #760): {escaped[:3]}"
    url = teaching.repository_url()
    for page in CHAPTERS:
        binder = [h for h in pages[page]["links"] if "mybinder.org" in h]
        if url is None:  # no repository known: no launch link at all, so none is dead
            assert not binder, f"{page}: a launch link without a repository URL"
        else:
            assert any(f"notebooks%2F{page.rsplit('/', 1)[1]}.ipynb" in h or
                       f"notebooks/{page.rsplit('/', 1)[1]}.ipynb" in h for h in binder), page


class _Anchors(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("id", "name") and v:
                self.ids.add(v)


def test_no_broken_internal_link(pages, site):
    targets: dict[str, set[str]] = {}
    sources: dict[str, str] = {}
    for page, p in pages.items():
        for href in p["links"]:
            if not href.startswith(site):
                continue  # external: not checked (no internet needed)
            parts = urllib.parse.urlsplit(href)
            path = parts.path
            targets.setdefault(path, set())
            sources.setdefault(path, page)
            if parts.fragment:
                targets[path].add(urllib.parse.unquote(parts.fragment))
                sources.setdefault(f"{path}#{parts.fragment}", page)
    assert len(targets) > len(pages), "links were collected"
    broken = []
    for path, anchors in sorted(targets.items()):
        try:
            with urllib.request.urlopen(urllib.parse.urljoin(site, path), timeout=30) as res:
                body = res.read().decode("utf-8", "replace")
                status = res.status
        except urllib.error.HTTPError as exc:
            broken.append(f"{path} ({exc.code}, linked from {sources[path]})")
            continue
        assert status == 200
        if not path.endswith((".html", "/")):
            continue
        parser = _Anchors()
        parser.feed(body)
        broken += [f"{path}#{a} (no such anchor, linked from {sources.get(f'{path}#{a}', sources[path])})"
                   for a in sorted(anchors) if a not in parser.ids]
    assert not broken, "broken internal links:\n" + "\n".join(broken)


def _bib_titles() -> dict[str, str]:
    text = (ROOT / "book" / "references.bib").read_text()
    out = {}
    for m in re.finditer(r"@\w+\s*\{\s*([^,\s]+)\s*,(.*?)\n\}", text, re.S):
        title = re.search(r"\btitle\s*=\s*\{(.*?)\}\s*,?\s*$", m.group(2), re.S | re.M)
        out[m.group(1)] = title.group(1) if title else ""
    return out


def _cited_keys() -> set[str]:
    texts = [p.read_text() for p in (ROOT / "book").glob("*.md")]
    for sid in implemented_studies():
        nb = json.loads(notebook_path(sid).read_text())
        texts += ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    return {k.strip() for t in texts for m in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", t)
            for k in m.split(",")}


def _letters(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", re.sub(r"\\[a-zA-Z]+|[{}]", "", s).lower())


def test_the_references_list_every_paper_cited(pages):
    titles = _bib_titles()
    cited = _cited_keys()
    assert len(cited) > 20, "citations were found in the chapters"
    assert not cited - set(titles), f"cited but not in references.bib: {sorted(cited - set(titles))}"
    listed = _letters(pages["book/references"]["text"])
    missing = [k for k in sorted(cited) if _letters(titles[k]) not in listed]
    assert not missing, f"cited papers missing from the references page: {missing}"
