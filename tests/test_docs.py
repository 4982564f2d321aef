"""The documentation: the README fits a few screens, and the site (README.md
as its home page, docs/ for the rest) builds with `mkdocs build --strict`, so
a broken link or anchor, or a page left out of mkdocs.yml's nav, fails here.
(tests/test_package.py runs every Python block of both.)"""

import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README_LINES = 250


def test_readme_fits_a_few_screens():
    with open(os.path.join(ROOT, "README.md")) as handle:
        lines = handle.read().splitlines()
    assert len(lines) <= README_LINES, \
        f"README.md has {len(lines)} lines; move a topic into docs/ (at most {README_LINES})"


def test_readme_links_name_docs_pages_that_exist():
    with open(os.path.join(ROOT, "README.md")) as handle:
        linked = set(re.findall(r"\]\((docs/[^)#]+)", handle.read()))
    pages = {os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md"))}
    assert linked and linked <= pages, sorted(linked - pages)
    # every page but the home page (the README itself) is reachable from it
    assert pages - linked == {"docs/index.md"}, sorted(pages - linked - {"docs/index.md"})


def test_the_site_builds_strictly(tmp_path):
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(site)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "WARNING" not in done.stderr, done.stderr[-3000:]
    home = (site / "index.html").read_text()
    # the home page is the README, its links to docs/ turned into the site's pages
    assert "Bring your own model" in home and 'href="docs/' not in home
    assert 'href="guides/' in home
    for page in glob.glob(os.path.join(ROOT, "docs", "*.md")):
        name = os.path.splitext(os.path.basename(page))[0]
        if name != "index":
            assert (site / name / "index.html").is_file(), name
            assert "README.md" not in (site / name / "index.html").read_text(), name
