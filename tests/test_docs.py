"""The README stays a five-minute read whose figures come from files, and the docs' links lead
somewhere: a moved section or a renamed page fails here, not in a reader's browser."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GENERATED = {ROOT / "docs" / "reference" / "suite.md", ROOT / "docs" / "reference" / "cli.md"}
"""Pages the docs site generates at build time (``docs/hooks.py``); not on disk."""
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's anchors: each heading lowercased, punctuation dropped, spaces to hyphens."""
    found = set()
    for line in page.read_text().splitlines():
        if line.startswith("#") and not line.startswith("#!"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return found


def broken_links(pages: list[Path]) -> list[str]:
    """Every relative link whose file, or whose heading anchor in a Markdown file, is missing."""
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if dest in GENERATED:
                continue
            if not dest.exists() or (anchor and dest.suffix == ".md"
                                     and anchor not in anchors(dest)):
                broken.append(f"{page.name}: {target}")
    return broken


def test_every_link_in_the_readme_and_docs_leads_somewhere():
    assert broken_links(PAGES) == []


def test_the_link_check_fails_on_a_missing_page_and_a_missing_anchor(tmp_path):
    (tmp_path / "b.md").write_text("# Real heading\n")
    page = tmp_path / "a.md"
    page.write_text("[ok](b.md#real-heading) [gone](c.md) [moved](b.md#old-heading)\n")
    assert broken_links([page]) == ["a.md: c.md", "a.md: b.md#old-heading"]


def test_the_readme_is_short_and_keeps_no_measurement_history():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    # Commit hashes and dated single runs belong in docs/results.md.
    assert not re.findall(r"\b[0-9a-f]{7,40}\b", readme)
    assert not re.findall(r"\b20\d\d-\d\d-\d\d\b", readme)


def test_the_readmes_sample_quotes_the_board():
    """The README's sample table is a quote of a published entry (``harness.quotes``), which
    the board's stale check keeps current, never a copy."""
    from harness.quotes import BLOCK

    readme = (ROOT / "README.md").read_text()
    quoted = [m.group(4) for m in BLOCK.finditer(readme)]
    assert quoted and all(body.count("\n| ") >= 2 for body in quoted)


def test_the_architecture_page_names_every_module():
    page = (ROOT / "docs" / "architecture.md").read_text().split("## Layout", 1)[1]
    modules = [*(ROOT / "harness").glob("*.py"), *(ROOT / "plugins").glob("*/*.py")]
    missing = [m.name for m in modules if m.name != "__init__.py" and f"`{m.name}`" not in page
               and f"`harness/{m.name}`" not in page]
    assert missing == []


def test_the_docs_site_builds_offline_with_no_warnings(tmp_path):
    """`mkdocs build --strict`: a broken link, a page missing from the nav, or a reference
    page that cannot be generated (an undocumented field or flag) fails the build."""
    import os
    import subprocess
    import sys
    from importlib.util import find_spec

    from conftest import need

    need("mkdocs (pip install -e '.[docs]')", find_spec("mkdocs") is not None
         and find_spec("material") is not None)
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    suite = (tmp_path / "site" / "reference" / "suite" / "index.html").read_text()
    cli = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text()
    assert "format_control" in suite and "gradient_checkpointing" in suite
    assert "--allow-cpu" in cli and "--detect-pgr" in cli


def test_the_references_refuse_an_undocumented_field_or_flag():
    import argparse

    from pydantic import BaseModel, Field

    from harness import reference
    from harness.cli import parser
    from harness.plugins import registry

    assert reference.undocumented(reference.suite_models(registry())) == []
    assert all(help_ for _, _, help_ in reference.flags(parser()))

    class Documented(BaseModel):
        a: int = Field(1, description="documented")

    class Overridden(Documented):
        a: int = 2  # a new default keeps the description of the field it overrides

    class Bare(BaseModel):
        b: int = 0

    assert reference.undocumented({"x": Overridden, "y": Bare}) == ["y.b"]
    bare = argparse.ArgumentParser(prog="p")
    bare.add_argument("--quiet", action="store_true")
    try:
        reference.cli_page(bare)
    except ValueError as exc:
        assert "p --quiet" in str(exc)
    else:
        raise AssertionError("a flag without help was printed blank")
