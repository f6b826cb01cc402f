"""Vendor the dashboard's (and /docs') front-end files from the npm registry at pinned versions.

`make vendor` runs this. Each package is fetched with `npm pack` (the registry's own
client, which checks the tarball against the registry's integrity digest), the one
file Medic serves is copied out, and its version and sha256 are written beside it in
VENDOR.json. `--check` verifies the checked-in files against VENDOR.json without
fetching anything (the tests run it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "src" / "medic" / "web" / "ui" / "static" / "vendor"
TEST_ASSETS = ROOT / "tests" / "ui" / "vendor"

# (npm package, pinned version, file inside the tarball, destination)
PINNED = [
    ("htmx.org", "2.0.8", "package/dist/htmx.min.js", STATIC / "htmx.min.js"),
    # /docs: Swagger UI over /openapi.json
    ("swagger-ui-dist", "5.35.0", "package/swagger-ui-bundle.js", STATIC / "swagger-ui-bundle.js"),
    ("swagger-ui-dist", "5.35.0", "package/swagger-ui.css", STATIC / "swagger-ui.css"),
    # Accessibility checks in the browser tests only: never served by Medic.
    ("axe-core", "4.14.1", "package/axe.min.js", TEST_ASSETS / "axe.min.js"),
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest_path(dest: Path) -> Path:
    return dest.parent / "VENDOR.json"


def fetch(package: str, version: str, member: str, dest: Path, workdir: Path) -> dict:
    out = subprocess.run(
        ["npm", "pack", f"{package}@{version}", "--json", "--pack-destination", str(workdir)],
        check=True, capture_output=True, text=True, cwd=workdir,
    )
    info = json.loads(out.stdout)[0]
    tarball = workdir / info["filename"]
    with tarfile.open(tarball) as tar:
        data = tar.extractfile(member).read()
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return {
        "package": package,
        "version": version,
        "file": dest.name,
        "from": member.removeprefix("package/"),
        "tarball_integrity": info.get("integrity"),
        "sha256": sha256(dest),
    }


def load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def vendor() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        manifests: dict[Path, dict] = {}
        for package, version, member, dest in PINNED:
            entry = fetch(package, version, member, dest, Path(tmp))
            manifests.setdefault(manifest_path(dest), {})[dest.name] = entry
            print(f"{package}@{version} -> {dest.relative_to(ROOT)} sha256 {entry['sha256']}")
    for path, entries in manifests.items():
        path.write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n")


def check() -> list[str]:
    problems = []
    for package, version, _member, dest in PINNED:
        entry = load(manifest_path(dest)).get(dest.name)
        if entry is None:
            problems.append(f"{dest.name}: not in {manifest_path(dest).name}; run make vendor")
        elif entry["version"] != version or entry["package"] != package:
            problems.append(f"{dest.name}: recorded {entry['package']}@{entry['version']}, pinned {package}@{version}")
        elif not dest.exists() or sha256(dest) != entry["sha256"]:
            problems.append(f"{dest.name}: missing or its sha256 differs from the recorded one; run make vendor")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the vendored files, fetch nothing")
    if parser.parse_args().check:
        problems = check()
        for line in problems:
            print(line, file=sys.stderr)
        return 1 if problems else 0
    vendor()
    return 0


if __name__ == "__main__":
    sys.exit(main())
