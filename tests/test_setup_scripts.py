"""make test's own set-up: the browser step (scripts/ensure-browser.sh) and the kernel sets of the
second pass (tests/kernels.py).  The browser script runs against a fake PATH, so nothing is
installed: a fake ``apt-get`` records what it was asked."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import kernels

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ensure-browser.sh"


def _bin(tmp_path: Path, **tools: str) -> Path:
    """A folder of fake commands (name -> shell body), plus the few real ones the script uses."""
    d = tmp_path / "bin"
    d.mkdir(parents=True)
    for name in ("id", "sudo"):
        real = subprocess.run(["/bin/sh", "-c", f"command -v {name}"], capture_output=True,
                              text=True).stdout.strip()
        if real and name not in tools:
            (d / name).symlink_to(real)
    for name, body in tools.items():
        (d / name).write_text(f"#!/bin/sh\n{body}\n")
        (d / name).chmod(0o755)
    return d


def _run(path: Path, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items()
            if k not in ("GROKLAB_BROWSER", "GROKLAB_ALLOW_NO_BROWSER")}
    return subprocess.run(["/bin/bash", str(SCRIPT)], capture_output=True, text=True,
                          env={**base, "PATH": str(path), **env})


def test_a_browser_on_path_needs_nothing(tmp_path):
    log = tmp_path / "apt.log"
    d = _bin(tmp_path, chromium="exit 0", **{"apt-get": f"echo \"$@\" >> {log}"})
    p = _run(d)
    assert p.returncode == 0 and not log.exists()


def test_a_missing_browser_is_installed_from_the_debian_packages(tmp_path):
    log = tmp_path / "apt.log"
    d = _bin(tmp_path, id="echo 0", **{"apt-get": f"echo \"$@\" >> {log}"})
    p = _run(d)
    assert p.returncode == 0, p.stderr
    calls = log.read_text().splitlines()
    assert calls[0].startswith("update") and calls[-1].split()[-1] == "chromium"
    assert "install" in calls[-1] and "-y" in calls[-1]


def test_without_root_or_apt_get_it_says_what_to_do(tmp_path):
    d = _bin(tmp_path, id="echo 1000", sudo="exit 1", **{"apt-get": "exit 0"})
    p = _run(d)
    assert p.returncode == 2 and "sudo apt-get install -y chromium" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    bare = _bin(tmp_path / "bare", id="echo 0")
    p = _run(bare)
    assert p.returncode == 2 and "no apt-get" in p.stderr
    assert _run(bare, GROKLAB_ALLOW_NO_BROWSER="1").returncode == 0


def test_groklab_browser_must_be_executable(tmp_path):
    d = _bin(tmp_path)
    p = _run(d, GROKLAB_BROWSER=str(tmp_path / "nope"))
    assert p.returncode == 2 and "GROKLAB_BROWSER" in p.stderr
    assert _run(d, GROKLAB_BROWSER="/bin/sh").returncode == 0


@pytest.mark.parametrize("flags,want", [({"avx2", "avx512f"}, "avx2"), ({"avx2"}, "default"),
                                        (set(), "default")])
def test_the_second_pass_holds_another_instruction_set(monkeypatch, flags, want):
    """On an AVX-512 CPU the numerics tests run again held to AVX2; elsewhere (native would be
    AVX2 already) to torch's portable kernels, so the second pass always changes the kernels."""
    monkeypatch.setattr(kernels, "cpu_flags", lambda: flags)
    assert kernels.held() == want
    env = kernels.environment(want)
    assert env["ATEN_CPU_CAPABILITY"] == want and env["GROKLAB_KERNEL_SET"] == want
    with pytest.raises(SystemExit):
        kernels.environment("nosuchset")
