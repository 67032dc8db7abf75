"""How results were made: ``OUT/manifest.json`` and the same record in every part's metadata.

The manifest lists every command that wrote into the directory, newest last: groklab's version,
the code's git commit and whether the work tree had uncommitted changes (when groklab runs from
a git checkout), each family's engine version (the numerics version that enters run ids), the
Python / torch / numpy / pyarrow versions, device, torch threads, what each family's runtime
reports about itself (e.g. which matrix kernel ran), the command line, and start / end times.
Every Parquet part carries its command's record as key-value metadata (key ``groklab``), so the
provenance of any row survives copying files around.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from . import __version__
from .store import MANIFEST

FORMAT = "groklab-results/2"
_GIT: dict | None = None


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def git_state() -> dict:
    """{"commit", "dirty"} of the checkout groklab is imported from ({} if none); asked once."""
    global _GIT
    if _GIT is None:
        here = Path(__file__).resolve().parent
        try:
            commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"],
                                    capture_output=True, text=True, timeout=5)
            if commit.returncode != 0:
                _GIT = {}
            else:
                dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain",
                                        "--untracked-files=no"], capture_output=True, text=True,
                                       timeout=5)
                _GIT = {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
        except (OSError, subprocess.SubprocessError):
            _GIT = {}
    return dict(_GIT)


def collect(*, engines: dict, runtime: dict, device: str, threads: int | None,
            backend: str) -> dict:
    """The record of this command (``engines``: problem -> engine version; ``runtime``: problem
    -> what its runtime reports, e.g. {"matrix_kernel": "numba"})."""
    return {
        "command_id": uuid.uuid4().hex[:12],
        "groklab_version": __version__,
        **{f"git_{k}": v for k, v in git_state().items()},
        "engine_versions": engines,
        "runtime": runtime,
        "python": platform.python_version(),
        "torch": _version("torch"), "numpy": _version("numpy"), "pyarrow": _version("pyarrow"),
        "platform": platform.platform(),
        "device": device, "threads": threads, "backend": backend,
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
        "started": now(),
    }


def read_manifest(root: Path) -> dict:
    p = Path(root) / MANIFEST
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        return {}
    except ValueError:
        return {"damaged": True}


def write_manifest(root: Path, manifest: dict) -> None:
    """Atomically (temporary name, fsync, rename)."""
    p = Path(root) / MANIFEST
    tmp = p.with_name(f".{p.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "w") as f:
            json.dump(manifest, f, indent=1, default=str)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)


def record_command(root: Path, record: dict, **update) -> None:
    """Add this command to the manifest, or update its entry (call under the directory lock)."""
    manifest = read_manifest(root)
    if not manifest or manifest.get("damaged"):
        manifest = {"format": FORMAT, "created": now(), "commands": []}
    cmds = manifest.setdefault("commands", [])
    entry = next((c for c in cmds if c.get("command_id") == record["command_id"]), None)
    if entry is None:
        entry = dict(record)
        cmds.append(entry)
    entry.update(update)
    write_manifest(root, manifest)
