"""medic.ingest sits below the web layer: nothing in it imports Flask (or the web package)."""

from __future__ import annotations

import subprocess
import sys

# Every module of medic.ingest imported in a fresh interpreter in which Flask and
# Werkzeug cannot be imported at all: an import anywhere underneath, direct or through
# another Medic module, fails it.
PROBE = """
import importlib, pkgutil, sys

BLOCKED = ("flask", "werkzeug")

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} imported from medic.ingest")
        return None

sys.meta_path.insert(0, Block())
import medic.ingest
for found in pkgutil.walk_packages(medic.ingest.__path__, "medic.ingest."):
    importlib.import_module(found.name)
print("\\n".join(sorted(name for name in sys.modules if name.startswith("medic"))))
"""


def test_nothing_under_medic_ingest_imports_flask():
    probe = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    imported = probe.stdout.split()
    assert {"medic.ingest.accept", "medic.ingest.transactions", "medic.ingest.writer"} <= set(imported)
    assert not [name for name in imported if name.startswith("medic.web")], imported
