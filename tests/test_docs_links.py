"""Every relative link in the repository's Markdown, and every docs/ or bench/ file that
code or docs name, points at something that exists (anchors included)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# A path named in prose or code: a docs page, bench/RESULTS.md, deploy/README.md ...
NAMED = re.compile(r"(?<![\w./-])((?:docs|bench|deploy|clients)/[\w./-]+\.(?:md|py|yml|yaml|json))")
# Files the benchmarks write (ignored by git), not references to checked-in ones.
GENERATED = {"bench/RESULTS-quick.md"}


def tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True)
    files = [ROOT / line for line in out.stdout.splitlines() if line]
    return [f for f in files if f.exists() and "node_modules" not in f.parts and "vendor" not in f.parts]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: Path) -> set[str]:
    found, seen, fenced = set(), {}, False
    for line in markdown.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if fenced or not line.startswith("#"):
            continue
        base = slug(line.lstrip("#"))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def test_relative_links_in_markdown_resolve() -> None:
    broken = []
    for doc in tracked("*.md"):
        for target in LINK.findall(doc.read_text()):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("<"):
                continue  # http:, mailto: ...
            path, _, anchor = target.partition("#")
            resolved = (doc.parent / path).resolve() if path else doc
            if not resolved.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target}")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


@pytest.mark.parametrize("kind", ["*.py", "*.md", "*.yml", "*.yaml", "Makefile", "*.toml"])
def test_files_named_in_code_and_docs_exist(kind: str) -> None:
    missing = []
    for source in tracked(kind):
        for named in NAMED.findall(source.read_text(errors="replace")):
            named = named.rstrip(".")
            if named not in GENERATED and not (ROOT / named).exists():
                missing.append(f"{source.relative_to(ROOT)} names {named}")
    assert not missing, "\n".join(missing)


# The founding design notes and the shared notes folder beside the repository: a
# reader of the project has neither. (Escaped, so this file does not cite them itself.)
OUTSIDE = re.compile(r"DESIGN\.md|\.\./shared/")


def test_nothing_cites_a_document_outside_the_repository() -> None:
    cited = [
        str(f.relative_to(ROOT))
        for f in tracked("*.py", "*.md", "*.yml", "*.yaml", "*.toml", "Makefile")
        if OUTSIDE.search(f.read_text(errors="replace"))
    ]
    assert not cited, f"these cite a document the repository does not have: {cited}"
