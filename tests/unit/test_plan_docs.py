"""``cdp plan docs``: the static HTML catalog of a plan. Every event has a page, every link resolves,
plan text is escaped, each page is self-contained (its inline style and script allowed by hash, nothing
else), ``--since`` marks what changed since a git revision, and a real headless browser (Debian's
``chromium``) runs the search and renders the pages."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from cdp_cli.errors import InputError, OutputError, UsageError
from cdp_cli.plan.docs_html import DocsResult, plan_docs
from cdp_cli.plan.validate import validate_paths
from cdp_cli.results import Result
from tests.conftest import ROOT, run_cdp


# --- reading the pages back ---------------------------------------------------------------------------
class _Page(HTMLParser):
    """Links, ids, headings, tags and the text of inline style and script blocks of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.tags: dict[str, int] = {}
        self.attrs_seen: list[tuple[str, dict[str, str | None]]] = []
        self.h1: list[str] = []
        self.blocks: dict[str, list[str]] = {"style": [], "script": []}
        self.csp = ""
        self._in: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.attrs_seen.append((tag, a))
        for key in ("href", "action", "src"):
            if a.get(key) is not None:
                self.links.append(a[key] or "")
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp = a.get("content") or ""
        if tag in ("h1", "style", "script"):
            self._in, self._text = tag, []

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            text = "".join(self._text)
            if tag == "h1":
                self.h1.append(text)
            else:
                self.blocks[tag].append(text)
            self._in = None


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def pages_of(out: Path) -> list[Path]:
    return sorted(out.rglob("*.html"))


def docs_for(tmp_path: Path, *plans: str | Path, since: str | None = None, out: str = "docs") -> DocsResult:
    result = plan_docs([Path(p) for p in plans], tmp_path / out, since=since)
    assert not result.failed(), result.findings
    return result


@pytest.fixture(scope="module")
def ecommerce(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs") / "ecommerce"
    plan_docs([ROOT / "plans" / "ecommerce"], out)
    return out


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs") / "both"
    plan_docs([ROOT / "plans" / "ecommerce", ROOT / "plans" / "saas"], out)
    return out


def _plan(name: str):
    return validate_paths([ROOT / "plans" / name]).reports[0].plan


# --- what is written ----------------------------------------------------------------------------------
def test_the_catalog_has_an_overview_a_page_per_definition_and_a_property_index(ecommerce: Path) -> None:
    plan = _plan("ecommerce")
    names = {p.relative_to(ecommerce).as_posix() for p in pages_of(ecommerce)}
    assert {"index.html", "properties.html", "identify.html", "common.html"} <= names
    assert "group.html" not in names  # the e-commerce plan has no group traits
    event_pages = sorted(ecommerce.glob("events/*.html"))
    assert len(event_pages) == len(plan.events)
    assert sorted(h for p in event_pages for h in parse(p).h1) == sorted(plan.events)
    assert len(list(ecommerce.glob("pages/*.html"))) == len(plan.pages)
    assert len(list(ecommerce.glob("screens/*.html"))) == len(plan.screens)
    assert (ecommerce / ".cdp-output.json").is_file()  # cdp's stamp: a rerun may replace the directory


def test_an_event_page_shows_every_version_its_properties_and_badges(ecommerce: Path) -> None:
    text = (ecommerce / "events" / "order-completed.html").read_text(encoding="utf-8")
    assert 'id="v1"' in text and 'id="v2"' in text  # one section per version, linkable
    assert ">v2</span>" in text and ">latest</span>" in text and ">default</span>" in text
    assert "checkout-team" in text and ">orders</span>" in text and ">revenue</span>" in text
    assert "<code>order_id</code>" in text and ">required</span>" in text
    assert "products[]." in text and "<code>price</code>" in text  # nested item properties, flattened
    assert "closed: other properties refused" in text
    identify = (ecommerce / "identify.html").read_text(encoding="utf-8")
    assert "PII · email" in identify and "format</span> email" in identify
    currency = (ecommerce / "events" / "order-completed.html").read_text(encoding="utf-8")
    assert "pattern</span> <code>^[A-Za-z]{3}$</code>" in currency


def test_the_property_index_says_where_each_shared_property_is_used(ecommerce: Path) -> None:
    page = parse(ecommerce / "properties.html")
    assert "p-order_id" in page.ids and "n-order_id" in page.ids
    text = (ecommerce / "properties.html").read_text(encoding="utf-8")
    row = text[text.index('id="p-order_id"') :].split("</tr>", 1)[0]
    assert "Order Completed v2" in row and "events/order-completed.html#v2" in row


def test_every_relative_link_and_anchor_resolves(ecommerce: Path, both: Path) -> None:
    for out in (ecommerce, both):
        ids = {p: parse(p).ids for p in pages_of(out)}
        for page in pages_of(out):
            for link in parse(page).links:
                parts = urlsplit(link)
                assert not parts.scheme and not parts.netloc, f"{page}: {link} leaves the catalog"
                target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
                assert target.is_file(), f"{page.relative_to(out)}: {link} -> missing {target}"
                assert out.resolve() in target.parents, f"{page}: {link} leaves the output directory"
                if parts.fragment:
                    assert unquote(parts.fragment) in ids[target], f"{page.relative_to(out)}: no #{parts.fragment}"


def test_pages_are_self_contained_and_allow_only_their_own_style_and_script(ecommerce: Path) -> None:
    def sha(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    for path in pages_of(ecommerce):
        page = parse(path)
        assert "link" not in page.tags and "img" not in page.tags and "iframe" not in page.tags
        assert not any("src" in attrs or "style" in attrs for _, attrs in page.attrs_seen), path
        assert page.tags.get("script") == 1 and page.tags.get("style") == 1, path
        assert "default-src 'none'" in page.csp
        # a stale hash would silently switch off the style or the search: the policy must name these blocks
        assert f"style-src {sha(page.blocks['style'][0])};" in page.csp, path
        assert f"script-src {sha(page.blocks['script'][0])};" in page.csp, path


def test_several_plans_get_a_folder_each_and_a_landing_page(both: Path) -> None:
    assert (both / "ecommerce" / "index.html").is_file() and (both / "saas" / "index.html").is_file()
    assert (both / "saas" / "group.html").is_file()  # the SaaS plan has group (account) traits
    landing = parse(both / "index.html")
    assert {"ecommerce/index.html", "saas/index.html"} <= set(landing.links)
    text = (both / "index.html").read_text(encoding="utf-8")
    assert "events/order-completed.html" in text and "saas/events/" in text  # one search over both plans


def test_the_result_follows_the_result_protocol(tmp_path: Path) -> None:
    result = docs_for(tmp_path, ROOT / "plans" / "saas")
    assert isinstance(result, Result)
    summary = result.summary()
    assert summary["plans"][0]["plan"] == "saas" and summary["plans"][0]["events"] == 23
    assert summary["html_pages"] == len(result.written) == len(pages_of(tmp_path / "docs"))
    assert result.verdict().startswith(f"wrote {len(result.written)} pages for 1 plan to ")
    assert result.tables()[0].rows[0][:3] == ["saas", str(tmp_path / "docs" / "index.html"), 23]
    assert result.files and all(f.endswith(".yaml") for f in result.files)
    assert not result.findings and not result.failed(strict=True)


def test_a_rerun_replaces_its_own_output_and_refuses_a_foreign_directory(tmp_path: Path) -> None:
    docs_for(tmp_path, ROOT / "plans" / "saas")
    docs_for(tmp_path, ROOT / "plans" / "saas")  # cdp wrote it: replaced
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "index.html").write_text("<h1>my own page</h1>")
    with pytest.raises(OutputError, match="not written by cdp"):
        plan_docs([ROOT / "plans" / "saas"], foreign)
    assert (foreign / "index.html").read_text() == "<h1>my own page</h1>"


def test_a_plan_with_errors_is_not_documented(tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text("events:\n  A:\n    propertees: {}\n", encoding="utf-8")
    result = plan_docs([tmp_path / "plan.yaml"], tmp_path / "docs")
    assert result.failed() and result.findings[0].code == "PL010"
    assert "fix them before writing its docs" in result.verdict()
    assert not (tmp_path / "docs").exists()


def test_bad_arguments_are_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        plan_docs([tmp_path / "missing"], tmp_path / "docs")
    with pytest.raises(UsageError, match="give a git revision"):
        plan_docs([ROOT / "plans" / "saas"], tmp_path / "docs", since="main:plans/saas")
    shutil.copytree(ROOT / "plans" / "saas", tmp_path / "saas")
    with pytest.raises(UsageError, match="one of the inputs"):
        plan_docs([tmp_path / "saas"], tmp_path / "saas" / "docs")


# --- escaping -----------------------------------------------------------------------------------------
HOSTILE = """\
name: "<b>bold</b> plan"
description: "Plan <script>alert('plan')</script> & co"
owner: "<i>owner</i>"
properties:
  note:
    type: string
    description: "</td></tr></table><script>alert('shared')</script>"
    enum: ["<x>", "a\\"b"]
events:
  "<img src=x onerror=alert(1)>":
    description: "<script>alert(1)</script>"
    labels: ['"><script>alert(2)</script>', "a&b"]
    owner: "</span><script>alert(3)</script>"
    properties:
      "<b>prop</b>": {type: string, pattern: "^<[a-z]+>$", description: "`<code>` & <em>em</em>"}
      note: {ref: note}
"""


def test_plan_text_is_escaped_everywhere(tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text(HOSTILE, encoding="utf-8")
    out = tmp_path / "docs"
    plan_docs([tmp_path / "plan.yaml"], out)
    for path in pages_of(out):
        text = path.read_text(encoding="utf-8")
        page = parse(path)
        assert page.tags.get("script") == 1, f"{path.name}: a script element came from plan text"
        assert "img" not in page.tags and "b" not in page.tags and "em" not in page.tags and "i" not in page.tags
        assert "<script>alert" not in text
    event = next(out.glob("events/*.html"))
    text = event.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "<code>&lt;code&gt;</code> &amp; &lt;em&gt;em&lt;/em&gt;" in text  # `code` spans still work
    assert parse(event).h1 == ["<img src=x onerror=alert(1)>"]  # shown as the text it is
    assert event.name == "img-src-x-onerror-alert-1.html"  # a file name made of its letters only


def test_names_that_slug_alike_get_their_own_pages(tmp_path: Path) -> None:
    # names that differ only in case or separators are a plan error (PL041); long names cut to one slug are not
    long = "A" + " Very" * 20
    (tmp_path / "plan.yaml").write_text(
        f"events:\n  {long} Long One: {{description: a}}\n  {long} Long Two: {{description: b}}\n"
        "  Bestellung abgeschloßen: {description: d}\n  '***': {description: e}\n",
        encoding="utf-8",
    )
    docs_for(tmp_path, tmp_path / "plan.yaml")
    names = sorted(p.name for p in (tmp_path / "docs").glob("events/*.html"))
    cut = "a" + "-very" * 15 + "-ver"
    assert names == sorted(["bestellung-abgeschloßen.html", f"{cut}-2.html", f"{cut}.html", "unnamed.html"])
    headings = {parse(p).h1[0]: p.name for p in (tmp_path / "docs").glob("events/*.html")}
    assert headings[f"{long} Long One"] == f"{cut}.html" and headings[f"{long} Long Two"] == f"{cut}-2.html"


# --- --since REV ---------------------------------------------------------------------------------------
def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with plans/ecommerce committed on main; the working tree is the current directory."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed (apt-get install git)")
    for key, value in {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CEILING_DIRECTORIES": str(tmp_path),
    }.items():
        monkeypatch.setenv(key, value)
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "plans" / "ecommerce", root / "plans" / "ecommerce")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "plan")
    monkeypatch.chdir(root)
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_since_marks_what_changed_with_both_verdicts(repo: Path) -> None:
    plan = repo / "plans" / "ecommerce"
    _edit(  # Order Completed v2 gets a required property: breaking for producers
        plan / "events" / "orders.yaml",
        "          currency: {ref: currency, required: true}\n",
        "          currency: {ref: currency, required: true}\n          gift: {type: boolean, required: true}\n",
    )
    _edit(plan / "identify.yaml", "      pii: phone\n", "")  # declassified: a warning for consumers
    _edit(plan / "events" / "orders.yaml", "  Order Cancelled:\n", "  Order Canceled:\n")  # removed and added
    (plan / "events" / "gifts.yaml").write_text(
        "events:\n  Gift Wrapped:\n    description: A gift was wrapped.\n    properties:\n"
        "      order_id: {ref: order_id, required: true}\n",
        encoding="utf-8",
    )
    result = plan_docs(["plans/ecommerce"], "build/docs", since="main")
    assert not result.failed()
    out = repo / "build" / "docs"
    rules = {c.rule for c in result.plans[0].changes}
    assert {"REQUIRED_PROPERTY_ADDED", "PII_CHANGED", "EVENT_ADDED", "EVENT_REMOVED"} <= rules
    assert result.summary()["plans"][0]["producer"] == "breaking"
    assert "since main" in result.verdict()

    completed = (out / "events" / "order-completed.html").read_text(encoding="utf-8")
    assert "changed since main</span>" in completed
    assert "producers: breaking" in completed and "required property added" in completed
    v1 = completed[completed.index('id="v1"') : completed.index('id="v2"')]
    assert "changed since main" not in v1  # only version 2 changed
    assert "new since main</span>" in (out / "events" / "gift-wrapped.html").read_text(encoding="utf-8")
    assert "changed since main" not in (out / "events" / "order-updated.html").read_text(encoding="utf-8")
    identify = (out / "identify.html").read_text(encoding="utf-8")
    assert "consumers: warning" in identify and "PII_CHANGED" in identify
    changes = (out / "changes.html").read_text(encoding="utf-8")
    assert "Changes since main" in changes and "Order Completed v2" in changes
    assert '<span class="chip">Order Cancelled</span>' in changes  # removed: named, no page to link to
    assert "new since main</span>" in (out / "events" / "order-canceled.html").read_text(encoding="utf-8")
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="changes.html"' in index and "Changed since <code>main</code>" in index


def test_since_a_shared_change_marks_the_shared_property_and_every_event_using_it(repo: Path) -> None:
    _edit(repo / "plans" / "ecommerce" / "properties.yaml", "  quantity:\n    type: integer\n    minimum: 1\n",
          "  quantity:\n    type: integer\n    minimum: 2\n")  # fmt: skip
    result = plan_docs(["plans/ecommerce"], "build/docs", since="HEAD")
    events = {c.name for c in result.plans[0].changes}
    assert {"Product Added", "Order Completed", "Cart Viewed"} <= events
    out = repo / "build" / "docs"
    props = (out / "properties.html").read_text(encoding="utf-8")
    row = props[props.index('id="p-quantity"') :].split("</tr>", 1)[0]
    assert "changed since HEAD" in row
    # one item on the changes page, naming every event it shows in
    changes = (out / "changes.html").read_text(encoding="utf-8")
    assert changes.count("minimum 1 → 2") == 2  # products[].quantity and quantity: two paths
    assert "Product Added v1" in changes and "Cart Viewed v1" in changes


def test_since_with_no_change_and_with_a_plan_new_since_then(repo: Path) -> None:
    result = plan_docs(["plans/ecommerce"], "build/docs", since="main")
    assert result.plans[0].changes == [] and "(0 changes since main)" in result.verdict()
    assert "Nothing changed since" in (repo / "build" / "docs" / "changes.html").read_text(encoding="utf-8")

    blog = repo / "plans" / "blog"
    blog.mkdir()
    (blog / "plan.yaml").write_text(
        "name: blog\nevents:\n  Post Read:\n    description: A post was read.\n", encoding="utf-8"
    )
    result = plan_docs(["plans"], "build/all", since="main")
    by_name = {p.plan.display_name: p for p in result.plans}
    assert by_name["blog"].new_since and not by_name["ecommerce"].new_since
    assert {c.rule for c in by_name["blog"].changes} == {"EVENT_ADDED"}
    post = (repo / "build" / "all" / "blog" / "events" / "post-read.html").read_text(encoding="utf-8")
    assert "new since main</span>" in post
    assert "new since main" in (repo / "build" / "all" / "index.html").read_text(encoding="utf-8")


def test_since_reads_the_plans_own_repository_from_anywhere(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _edit(repo / "plans" / "ecommerce" / "events" / "orders.yaml", "  Order Cancelled:\n", "  Order Canceled:\n")
    monkeypatch.chdir(repo.parent)  # outside the repository
    result = plan_docs([repo / "plans" / "ecommerce"], repo.parent / "docs", since="main")
    assert {c.rule for c in result.plans[0].changes} == {"EVENT_ADDED", "EVENT_REMOVED"}


def test_since_an_unknown_revision_is_an_input_error(repo: Path) -> None:
    with pytest.raises(InputError, match="unknown revision 'nope'"):
        plan_docs(["plans/ecommerce"], "build/docs", since="nope")
    assert not (repo / "build" / "docs").exists()


# --- the command ----------------------------------------------------------------------------------------
def test_the_command_writes_the_catalog_and_prints_where(tmp_path: Path) -> None:
    out = tmp_path / "docs"
    r = run_cdp("plan", "docs", "plans/ecommerce", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert f"wrote {len(pages_of(out))} pages for 1 plan to {out / 'index.html'}" in r.stdout
    r = run_cdp("plan", "docs", "--plan", "plans/saas", "-o", str(out), "--quiet")
    assert r.returncode == 0 and r.stdout == "", r.stderr
    assert parse(out / "index.html").h1 == ["saas"]
    r = run_cdp("plan", "docs", "--help")
    assert r.returncode == 0 and r.stdout.count("Example:") >= 4


# --- a real browser ---------------------------------------------------------------------------------------
def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no headless browser: install Debian's chromium package (apt-get install chromium)")


def _browse(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",  # tests may run as root (containers, CI)
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--virtual-time-budget=2000",
        *args,
        url,
    ]
    r = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    return r


class _Dom(HTMLParser):
    """The catalog entries of a dumped DOM: (search text, hidden), sections shown, the script's mark."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[tuple[str, bool]] = []
        self.sections: dict[str, bool] = {}
        self.ready = False
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.ready = a.get("data-js") == "ready"
        if tag == "script":
            self.scripts += 1
        if "data-search" in a:
            self.entries.append((a["data-search"] or "", "hidden" in a))
        if "data-section" in a:
            self.sections[a.get("id") or ""] = "hidden" not in a


def _dom(text: str) -> _Dom:
    dom = _Dom()
    dom.feed(text)
    return dom


def test_in_a_browser_the_search_runs_from_file_urls(ecommerce: Path, tmp_path: Path) -> None:
    plain = _dom(_browse(tmp_path, (ecommerce / "index.html").as_uri(), "--dump-dom").stdout)
    assert plain.ready, "the page script did not run (a script error, or the policy refused it)"
    assert plain.entries and not any(hidden for text, hidden in plain.entries if not text.startswith("property"))
    assert plain.sections == {"events": True, "pages": True, "screens": True, "messages": True, "properties": False}

    url = (ecommerce / "index.html").as_uri() + "?q=order"
    dom = _dom(_browse(tmp_path, url, "--dump-dom").stdout)
    assert dom.ready
    matches = [text for text, hidden in dom.entries if not hidden]
    assert matches and all("order" in text for text in matches)
    assert all(hidden for text, hidden in dom.entries if "order" not in text)
    assert any(text.startswith("order completed") for text in matches)
    assert dom.sections["events"] and dom.sections["properties"]  # order_id, order-level properties

    dom = _dom(_browse(tmp_path, (ecommerce / "index.html").as_uri() + "?q=zzz-nothing", "--dump-dom").stdout)
    assert all(hidden for _, hidden in dom.entries) and not any(dom.sections.values())


def test_in_a_browser_escaped_plan_text_stays_text(tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text(HOSTILE, encoding="utf-8")
    out = tmp_path / "docs"
    plan_docs([tmp_path / "plan.yaml"], out)
    for page in (out / "index.html", next(out.glob("events/*.html"))):
        text = _browse(tmp_path, page.as_uri(), "--dump-dom").stdout
        dom = _dom(text)
        assert dom.ready and dom.scripts == 1
        assert "&lt;script&gt;alert(" in text


def test_in_a_browser_the_pages_render(ecommerce: Path, tmp_path: Path) -> None:
    """Screenshots of the overview and an event page (kept in the test's directory for a look)."""
    for name, page, size in (
        ("index", ecommerce / "index.html", "1280,900"),
        ("event", ecommerce / "events" / "order-completed.html", "1280,1400"),
        ("narrow", ecommerce / "index.html", "390,844"),
    ):
        shot = tmp_path / f"plan-docs-{name}.png"
        _browse(tmp_path, page.as_uri(), f"--screenshot={shot}", f"--window-size={size}")
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert f"{width},{height}" == size
        assert len(data) > 40_000, f"{name}: the screenshot is nearly empty ({len(data)} bytes)"


def test_slugs_are_plain_file_names() -> None:
    from cdp_cli.plan.docs_html import _slug

    assert _slug("Order Completed") == "order-completed"
    assert _slug("../../etc/passwd") == "etc-passwd"
    assert _slug("  ") == "unnamed"
    assert re.fullmatch(r"[\w-]+", _slug('a/b\\c:d*e?f"g<h>i|j'))
