"""The built documentation site: every internal link resolves, every page and image loads.

The site is the one ``sphinx-build -b html docs DIR`` wrote; its path comes from the
environment variable ``DIFFMEM_DOCS_HTML`` (``.ci/run`` builds the site and sets it). Without
it, or without a built site there, the tests skip.

* Every ``href`` and ``src`` of every HTML page is parsed: a relative link must name a file of
  the site, and its ``#anchor`` an ``id`` (or ``a name``) of the page it names.
* Headless Chromium (Debian's package) opens every page of the site in turn in an iframe of a
  harness page served over a local HTTP server: each must load (not an HTTP error page, with
  the theme's ``main`` element) and each of its images must load (``naturalWidth > 0``).
"""

from __future__ import annotations

import json
import os
import posixpath
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from browser import CHROMIUM, NO_CHROMIUM, harness_result, serve

_ENV = "DIFFMEM_DOCS_HTML"


def _site() -> Path:
    value = os.environ.get(_ENV, "")
    if not value:
        pytest.skip(
            f"{_ENV} is not set: build the site (sphinx-build -b html docs docs/_build/html) "
            f"and set {_ENV}=docs/_build/html to test it"
        )
    site = Path(value).resolve()
    if not (site / "index.html").is_file():
        pytest.skip(f"{_ENV}={value} holds no built site (no index.html there)")
    return site


class _Page(HTMLParser):
    """The ids (and ``a name``) of a page and every ``href`` / ``src`` it holds."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        for key in ("href", "src"):
            if attrs.get(key) is not None:
                self.links.append(attrs[key])


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _pages(site: Path) -> list[str]:
    """Every HTML page of the site, as a path relative to it (not the theme's template
    fragments under ``_static/``)."""
    pages = (p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    return sorted(p for p in pages if not p.startswith("_static/"))


def broken_links(site: Path) -> list[str]:
    """``"page: link (why)"`` for each internal link of the site that does not resolve."""
    parsed = {page: _parse(site / page) for page in _pages(site)}
    broken = []
    for page, info in parsed.items():
        for link in info.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:")):
                continue  # external (the theme's and MathJax's CDN links, mailto)
            if parts.path:
                target = posixpath.normpath(
                    posixpath.join(posixpath.dirname(page), unquote(parts.path))
                )
                if target.startswith("..") or target == ".":
                    broken.append(f"{page}: {link} (outside the site)")
                    continue
                if (site / target).is_dir():
                    target = posixpath.join(target, "index.html")
                if not (site / target).is_file():
                    broken.append(f"{page}: {link} (no file {target})")
                    continue
            else:
                target = page
            anchor = unquote(parts.fragment)
            if anchor and target.endswith(".html") and anchor not in parsed[target].ids:
                broken.append(f"{page}: {link} (no id {anchor!r} in {target})")
    return broken


def test_every_internal_link_resolves():
    site = _site()
    pages = _pages(site)
    assert "index.html" in pages and "genindex.html" in pages
    for section in ("api/index.html", "gallery/index.html", "notebooks/index.html"):
        assert section in pages, f"the site has no {section}"
    assert (site / "llms.txt").is_file(), "llms.txt is not at the site root"
    broken = broken_links(site)
    assert not broken, f"{len(broken)} broken internal link(s):\n" + "\n".join(broken[:50])


def test_a_broken_link_and_anchor_are_found(tmp_path):
    """The link checker itself: a missing file and a missing anchor are reported."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="sub/page.html#here">ok</a><a href="#top" id="top">ok</a>'
        '<a href="sub/page.html#gone">bad anchor</a><a href="missing.html">bad file</a>'
        '<img src="sub/"><a href="https://example.org/x#y">external</a>',
        encoding="utf-8",
    )
    (tmp_path / "sub" / "page.html").write_text('<p id="here"></p>', encoding="utf-8")
    (tmp_path / "sub" / "index.html").write_text("<p></p>", encoding="utf-8")
    assert broken_links(tmp_path) == [
        "index.html: sub/page.html#gone (no id 'gone' in sub/page.html)",
        "index.html: missing.html (no file missing.html)",
    ]


#: Opens each page of ``PAGES`` in turn in the iframe, waits for its images (load or error),
#: then writes what it measured per page into ``pre#result``.
_HARNESS = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>site harness</title></head><body>
<script>
var PAGES = %s;
var results = [];
var k = 0;
function settle(img) {
  if (img.complete) return Promise.resolve();
  return new Promise(function (done) {
    img.addEventListener("load", done);
    img.addEventListener("error", done);
  });
}
function loaded(frame) {
  if (k >= PAGES.length || frame.getAttribute("src") === "about:blank") return;
  var doc = frame.contentDocument;
  var imgs = Array.prototype.slice.call(doc.images);
  imgs.forEach(function (im) { im.loading = "eager"; });
  Promise.all(imgs.map(settle)).then(function () {
    results.push({
      page: PAGES[k],
      title: doc.title,
      main: doc.querySelector("main") !== null,
      images: imgs.length,
      broken: imgs.filter(function (im) { return !(im.naturalWidth > 0); })
        .map(function (im) { return im.getAttribute("src"); })
    });
    k += 1;
    if (k < PAGES.length) {
      frame.setAttribute("src", "site/" + PAGES[k]);
    } else {
      var out = document.createElement("pre");
      out.id = "result";
      out.textContent = JSON.stringify(results);
      document.body.appendChild(out);
    }
  });
}
</script>
<iframe id="page" width="1280" height="1000" onload="loaded(this)" src="about:blank"></iframe>
<script>document.getElementById("page").setAttribute("src", "site/" + PAGES[0]);</script>
</body></html>
"""


def measure_pages(site: Path, pages: list[str], work: Path) -> list[dict]:
    """What the harness measured on each of ``pages`` of ``site`` in headless Chromium."""
    root = work / "root"
    root.mkdir(parents=True)
    (root / "site").symlink_to(site, target_is_directory=True)
    (root / "harness.html").write_text(_HARNESS % json.dumps(pages), encoding="utf-8")
    with serve(root) as url:
        return harness_result(
            f"{url}/harness.html", work / "profile", budget_ms=1000 * len(pages), timeout=600
        )


def failures(measured: list[dict]) -> list[str]:
    """``"page: why"`` for each page that did not load and each image that did not."""
    out = [
        f"{m['page']}: did not load"
        for m in measured
        if not m["main"] or m["title"] == "Error response"
    ]
    return out + [f"{m['page']}: image {src} did not load" for m in measured for src in m["broken"]]


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_every_page_and_image_loads_in_headless_chromium(tmp_path):
    site = _site()
    pages = _pages(site)
    measured = measure_pages(site, pages, tmp_path)
    assert [m["page"] for m in measured] == pages
    bad = failures(measured)
    assert not bad, f"{len(bad)} failure(s):\n" + "\n".join(bad[:50])
    gallery = next(m for m in measured if m["page"] == "gallery/index.html")
    from diffmem_theory.registry import list_experiments

    assert gallery["images"] >= len(list_experiments())


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_the_harness_sees_a_missing_page_and_a_broken_image(tmp_path):
    import matplotlib.pyplot as plt

    site = tmp_path / "site"
    site.mkdir()
    fig = plt.figure(figsize=(1, 1))
    fig.savefig(site / "ok.png")
    plt.close(fig)
    (site / "index.html").write_text(
        '<html><head><title>t</title></head><body><main><img src="ok.png">'
        '<img src="gone.png"></main></body></html>',
        encoding="utf-8",
    )
    measured = measure_pages(site, ["index.html", "missing.html"], tmp_path / "work")
    assert [m["images"] for m in measured] == [2, 0]
    assert failures(measured) == [
        "missing.html: did not load",
        "index.html: image gone.png did not load",
    ]
