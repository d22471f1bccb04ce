"""The README and the docs/ pages: code blocks marked "runs as written" run as written in a fresh
process (the "Write your own objective" queue fills), every test they name exists, and every link
between them points at a file and heading that exist."""

import glob
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["README.md"] + sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))


def text(page):
    with open(os.path.join(ROOT, page), encoding="utf-8") as f:
        return f.read()


def prose(markdown):
    """``markdown`` without its fenced code blocks."""
    return re.sub(r"```.*?```", "", markdown, flags=re.S)


def headings(markdown):
    return re.findall(r"^#+ (.*)$", prose(markdown), re.M)


def runnable_blocks():
    """(page, heading) of every python block whose preceding paragraph says it "runs as written"."""
    found = []
    for page in PAGES:
        for match in re.finditer(r"runs as written[^`]*?```python\n(.*?)```", text(page), re.S):
            heading = headings(text(page)[: match.start()])[-1]
            found.append(pytest.param(match.group(1), id=f"{page}: {heading}"))
    return found


def test_the_docs_have_runnable_blocks():
    assert any("Write your own objective" in p.id for p in runnable_blocks())


@pytest.mark.parametrize("code", runnable_blocks())
def test_block_runs_as_written(code):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    if "class QueueContrast" in code:
        losses, count = result.stdout.strip().splitlines()[-1].rsplit(" ", 1)
        assert int(count) == 2 * 3 * 4  # 6 steps of 4 keys pushed


def test_every_named_test_exists():
    sources = {path: text(path) for path in glob.glob("tests/**/*.py", root_dir=ROOT, recursive=True)}
    for page in PAGES:
        for path, name in re.findall(r"(tests/[\w/]+\.py)(?:::(\w+))?", text(page)):
            assert path in sources, f"{page} names {path}, which does not exist"
            assert not name or f"def {name}(" in sources[path], f"{page} names {path}::{name}, not defined there"
        for name in re.findall(r"`::(\w+)`", text(page)):  # "::name" after a file named just before
            assert any(f"def {name}(" in source for source in sources.values()), f"{page} names ::{name}"


def slug(heading):
    """GitHub's anchor for a markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_point_at_existing_pages_and_headings():
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", prose(text(page))):
            if "://" in target:
                continue
            path, _, anchor = target.partition("#")
            linked = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
            assert os.path.exists(os.path.join(ROOT, linked)), f"{page} links {target}: no such file"
            if anchor:
                anchors = [slug(h) for h in headings(text(linked))]
                assert anchor in anchors, f"{page} links {target}: no such heading in {linked}"


def test_the_readme_maps_every_docs_page():
    readme = text("README.md")
    assert [p for p in PAGES[1:] if f"]({p})" not in readme] == []
