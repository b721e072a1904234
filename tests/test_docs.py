"""The documentation's links lead somewhere, and the README stays short.

Checked in README.md, docs/**/*.md and results/**/README.md, outside code blocks and code spans:
inline links and images ``[text](target)``, reference definitions ``[label]: target``, autolinks
``<https://...>`` and HTML ``href``/``src`` attributes.

* A relative link must resolve to a file or folder inside the repository (``#fragment`` stripped;
  a leading ``/`` is the repository root, as on GitHub) that git does not ignore, so that it exists
  in a fresh clone too.
* A fragment (``#frag`` in the same file, ``page.md#frag`` in another) must be the GitHub-style
  anchor of a heading in the target Markdown file: the heading's text lowercased, punctuation other
  than ``-`` and ``_`` removed, spaces turned into ``-``, ``-1``, ``-2`` … appended to repeats.
  Fragments into other files may only be GitHub line anchors (``#L10``, ``#L10-L20``).
* http(s) links are NOT fetched (the test machines have no network): they are only checked to be
  well-formed URLs (scheme, host, no spaces, a valid port).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).parents[1]
README_LIMIT = 12 * 1024

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.S)
INLINE_LINK = re.compile(
    r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]"  # [text], one level of nested brackets
    r"\(\s*(<[^<>\n]*>|[^\s()<>]*(?:\([^\s()]*\)[^\s()<>]*)*)"  # (target
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?\s*\)"  # optional "title")
)
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[([^\]]+)\]:\s*(<[^<>\n]*>|\S+)", re.M)
AUTOLINK = re.compile(r"<((?:https?|mailto):[^<>\s]*)>")
HTML_ATTRIBUTE = re.compile(r"\b(?:href|src)\s*=\s*[\"']([^\"']*)[\"']")
HTML_ANCHOR = re.compile(r"<a\s[^>]*\b(?:name|id)\s*=\s*[\"']([^\"']+)[\"']", re.I)
ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
LINE_ANCHOR = re.compile(r"L\d+(-L\d+)?")
URL_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class Link:
    file: Path
    line: int
    text: str
    target: str

    def where(self, root: Path) -> str:
        return f"{self.file.relative_to(root)}:{self.line}: [{self.text}]({self.target})"


def markdown_files(root: Path = ROOT) -> list[Path]:
    """README.md, every Markdown file under docs/, and the READMEs under results/."""
    files = [root / "README.md", *(root / "docs").rglob("*.md"), *(root / "results").rglob("README.md")]
    return sorted({f for f in files if f.is_file()})


def blank(match: re.Match[str]) -> str:
    """The matched text with every character but line breaks turned into a space."""
    return re.sub(r"[^\n]", " ", match.group(0))


def without_fenced_code(text: str) -> str:
    """``text`` with fenced code blocks blanked out (line count kept, so line numbers hold)."""
    out, fence = [], None
    for line in text.split("\n"):
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)
            out.append("")
        elif fence is not None:
            if re.match(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$", line):
                fence = None
            out.append("")
        else:
            out.append(line)
    return "\n".join(out)


def without_code(text: str) -> str:
    """``text`` with fenced code blocks and code spans blanked out."""
    return CODE_SPAN.sub(blank, without_fenced_code(text))


def links_in(file: Path) -> list[Link]:
    text = without_code(file.read_text(encoding="utf-8"))
    found: list[tuple[int, str, str]] = []
    for match in INLINE_LINK.finditer(text):
        found.append((match.start(), match.group(1), match.group(2)))
    for match in REFERENCE_DEFINITION.finditer(text):
        found.append((match.start(), match.group(1), match.group(2)))
    for pattern in (AUTOLINK, HTML_ATTRIBUTE):
        for match in pattern.finditer(text):
            found.append((match.start(), match.group(1), match.group(1)))
    links = []
    for start, label, raw in sorted(found):
        target = raw.strip()
        if target.startswith("<") and target.endswith(">"):
            target = target[1:-1].strip()
        links.append(Link(file, text.count("\n", 0, start) + 1, " ".join(label.split()), target))
    return links


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: its rendered text lowercased, punctuation other than
    ``-`` and ``_`` removed, each space a ``-``."""
    parts = re.split(r"(`+[^`]*?`+)", heading)  # code spans keep their text as written
    rendered = []
    for part in parts:
        if part.startswith("`"):
            rendered.append(part.strip("`"))
            continue
        plain = re.sub(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\([^)]*\)", r"\1", part)  # link -> its text
        plain = re.sub(r"<[^>]+>", "", plain)  # HTML tags
        plain = re.sub(r"(?<![\w])[*_]+|[*_]+(?![\w])", "", plain)  # emphasis markers, not snake_case
        rendered.append(plain)
    text = "".join(rendered).strip().lower()
    kept = "".join(ch for ch in text if ch.isalnum() or ch in "-_ " or unicodedata.category(ch).startswith("M"))
    return kept.replace(" ", "-")


def anchors_of(file: Path) -> set[str]:
    """Every anchor a link into ``file`` may name: its headings' and explicit HTML anchors."""
    text = without_fenced_code(file.read_text(encoding="utf-8"))
    headings, previous = [], ""
    for line in text.split("\n"):
        atx = ATX_HEADING.match(line)
        if atx:
            headings.append(atx.group(2) or "")
        elif (
            SETEXT_UNDERLINE.match(line)
            and previous.strip()
            and not previous.lstrip().startswith(("|", "-", "*", "+", ">", "#"))
        ):
            headings.append(previous.strip())
        previous = line
    anchors, seen = set(), {}
    for heading in headings:
        anchor = github_anchor(heading)
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        anchors.add(anchor if count == 0 else f"{anchor}-{count}")
    anchors |= {m.group(1) for m in HTML_ANCHOR.finditer(text)}
    return anchors


def url_problem(url: str) -> str | None:
    """Why ``url`` is not a well-formed http(s) URL, or None. Nothing is fetched."""
    if re.search(r"\s", url):
        return "a URL with white space"
    parts = urlsplit(url)
    if parts.scheme not in URL_SCHEMES:
        return f"scheme {parts.scheme!r} is not http(s)"
    try:
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError as exc:
        return f"bad port: {exc}"
    host = parts.hostname or ""
    if not host or ("." not in host and host != "localhost") or host.startswith(".") or host.endswith("."):
        return f"no valid host in {url!r}"
    return None


def ignored_by_git(paths: list[Path], root: Path) -> set[Path]:
    """Those of ``paths`` that git ignores (they would be missing from a fresh clone)."""
    if not paths or shutil.which("git") is None or not (root / ".git").exists():
        return set()
    result = subprocess.run(
        ["git", "-C", str(root), "check-ignore", "--stdin"],
        input="\n".join(str(p.relative_to(root)) for p in paths),
        capture_output=True,
        text=True,
        check=False,
    )
    return {root / line for line in result.stdout.splitlines() if line}


def link_problems(file: Path, root: Path = ROOT) -> list[str]:
    """One line per link of ``file`` that leads nowhere."""
    problems: list[tuple[Link, str]] = []
    local: list[tuple[Link, Path]] = []
    for link in links_in(file):
        target = link.target
        if not target:
            problems.append((link, "empty target"))
            continue
        scheme = urlsplit(target).scheme
        if scheme in URL_SCHEMES:
            if (why := url_problem(target)) is not None:
                problems.append((link, why))
            continue
        if scheme == "mailto":
            if not re.fullmatch(r"mailto:[^@\s]+@[^@\s]+\.[^@\s]+", target):
                problems.append((link, "malformed mailto address"))
            continue
        if scheme or target.startswith("//"):
            problems.append((link, f"scheme {scheme or '//'!r} is neither http(s) nor a relative path"))
            continue
        path_part, _, fragment = target.partition("#")
        path_part, fragment = unquote(path_part), unquote(fragment)
        if path_part:
            base = root if path_part.startswith("/") else file.parent
            resolved = Path(os.path.normpath(base / path_part.lstrip("/")))
        else:
            resolved = file
        if resolved != root and root not in resolved.parents:
            problems.append((link, "points outside the repository"))
            continue
        if not resolved.exists():
            problems.append((link, f"{resolved.relative_to(root)} does not exist"))
            continue
        local.append((link, resolved))
        if not fragment and "#" in target:
            problems.append((link, "empty fragment"))
        elif fragment:
            if resolved.is_file() and resolved.suffix.lower() == ".md":
                if fragment not in anchors_of(resolved):
                    problems.append((link, f"no heading with anchor #{fragment} in {resolved.relative_to(root)}"))
            elif not (resolved.is_file() and LINE_ANCHOR.fullmatch(fragment)):
                problems.append((link, f"#{fragment}: only Markdown headings and line anchors can be checked"))
    ignored = ignored_by_git([path for _, path in local], root)
    problems += [(link, f"{path.relative_to(root)} is ignored by git") for link, path in local if path in ignored]
    return [f"{link.where(root)}: {why}" for link, why in sorted(problems, key=lambda p: p[0].line)]


@pytest.mark.parametrize("file", markdown_files(), ids=lambda f: str(f.relative_to(ROOT)))
def test_every_link_leads_somewhere(file: Path) -> None:
    problems = link_problems(file)
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_readme_is_at_most_12_kib() -> None:
    size = (ROOT / "README.md").stat().st_size
    assert size <= README_LIMIT, f"README.md is {size} bytes, over {README_LIMIT}: move detail to docs/"


def test_every_docs_page_is_listed_in_the_readme() -> None:
    """The README is where the docs are found: no page of docs/ may be left out of it."""
    linked = {
        Path(os.path.normpath(ROOT / link.target.partition("#")[0]))
        for link in links_in(ROOT / "README.md")
        if not urlsplit(link.target).scheme
    }
    pages = set((ROOT / "docs").rglob("*.md"))
    assert pages, "no docs/*.md found"
    assert not pages - linked, f"not linked from README.md: {sorted(str(p.relative_to(ROOT)) for p in pages - linked)}"


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("How `compare` decides", "how-compare-decides"),
        ("Head to head: `bench ab`", "head-to-head-bench-ab"),
        ("`@workload` arguments", "workload-arguments"),
        ("Reproducing the CIFAR-10 accuracy in the CPU image", "reproducing-the-cifar-10-accuracy-in-the-cpu-image"),
        ("On CUDA: expected, and what one H200 showed", "on-cuda-expected-and-what-one-h200-showed"),
        ("Determinism: do my results reproduce?", "determinism-do-my-results-reproduce"),
        ("The `fill_uninitialized_memory` flag, **bold**, _em_", "the-fill_uninitialized_memory-flag-bold-em"),
        ("A [linked](other.md) heading", "a-linked-heading"),
        ("Soak: signals at random moments", "soak-signals-at-random-moments"),
    ],
)
def test_github_anchor(heading: str, anchor: str) -> None:
    assert github_anchor(heading) == anchor


def test_the_checker_catches_what_it_should(tmp_path: Path) -> None:
    """A planted broken file link, anchor and URL are each reported; code and good links are not."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other page\n\n## A section\n\n## A section\n")
    (tmp_path / "folder").mkdir()
    page = tmp_path / "README.md"
    page.write_text(
        "# Title\n\n"
        "[good](docs/other.md) [good anchor](docs/other.md#a-section) [repeat](docs/other.md#a-section-1)\n"
        "[here](#title) [folder](folder/) [web](https://example.org/x?y=1#z) ![img](docs/other.md)\n"
        "[missing file](docs/nope.md)\n"
        "[missing anchor](docs/other.md#no-such-section)\n"
        "[bad url](https://example) [no host](http:///x) [bad port](https://example.org:99999/)\n"
        "[outside](../elsewhere.md)\n"
        "`[in a span](nowhere.md)`\n\n"
        "```\n[in a block](nowhere.md)\n```\n\n"
        "[ref]: docs/also-missing.md\n"
    )
    problems = link_problems(page, root=tmp_path)
    reported = [p.split(": [", 1)[1].split("](", 1)[0] for p in problems]
    assert reported == ["missing file", "missing anchor", "bad url", "no host", "bad port", "outside", "ref"], problems
