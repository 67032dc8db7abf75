"""Two commands, one results directory: a lock for housekeeping and claims for batches.

*The directory lock* (``OUT/.lock``, an advisory ``flock``) is held only for short housekeeping
(recovery, compaction, re-detection, the manifest), never while computing.

*Batch claims* make two identical commands into one ``--out`` do the work once.  Before a batch
runs, its claim file ``OUT/.claims/<batch key>`` is created exclusively (``O_EXCL``), naming the
process; a second command that finds the claim held by a live process leaves that batch alone,
does its own, then waits for the other's batches to be committed (taking over any whose owner
died).  What is committed is read after a claim is taken, never before: an owner commits a batch
and then releases its claim, so a free claim may belong to a batch finished a moment ago
(:func:`groklab.driver._run_claimed`).  A stale claim is replaced under the directory lock.  The batch key is a hash of the batch's run ids, so identical commands plan identical keys,
and shards of one grid (disjoint runs) never collide.  A claim's owner is alive when it is a
running process on this machine; a claim from another machine is trusted until it is
``GROKLAB_CLAIM_TTL`` seconds old (default one day) -- on a shared cluster file system, kill a
stuck sweep's claims with ``groklab status OUT --repair``.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import time
import uuid
from pathlib import Path

from .store import HOST, process_alive

CLAIMS, LOCK = ".claims", ".lock"
NEW = ".new-"  # prefix of a claim being written
TTL_ENV = "GROKLAB_CLAIM_TTL"


@contextlib.contextmanager
def directory_lock(root: Path):
    """Exclusive advisory lock on OUT (blocks until free)."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def batch_key(batch) -> str:
    """(D x B configs) -> a name shared by every process that plans the same batch."""
    ids = sorted(cfg.run_id() for row in batch for cfg in row)
    return hashlib.sha1(",".join(ids).encode()).hexdigest()[:20]


def _alive(info: dict) -> bool:
    try:
        alive = process_alive(info.get("host"), int(info.get("pid", -1)))
    except (TypeError, ValueError):
        alive = False if info.get("host") == HOST else None
    if alive is not None:
        return alive
    ttl = float(os.environ.get(TTL_ENV, 86400))
    return time.time() - float(info.get("time", 0)) < ttl


class Claims:
    def __init__(self, root: Path):
        self.dir = Path(root) / CLAIMS
        self.mine: set[str] = set()
        self.me = {"host": HOST, "hostname": socket.gethostname(), "pid": os.getpid()}

    def _path(self, key: str) -> Path:
        return self.dir / key

    def owner(self, key: str) -> dict | None:
        """The live owner of claim ``key`` (None if free or stale)."""
        try:
            info = json.loads(self._path(key).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            info = {}  # half-written by a process that died at that instant: stale
        return info if _alive(info) and info.get("token") else None

    def take(self, key: str) -> bool:
        """Claim ``key``; True if this process now holds it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        body = json.dumps({**self.me, "time": time.time(), "token": uuid.uuid4().hex})
        # the name says whose it is: clear_stale removes only those of processes that are gone
        tmp = self.dir / f"{NEW}{key}-{HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.write_text(body)
        try:
            try:
                os.link(tmp, path)  # atomic and exclusive: the claim appears whole or not at all
            except FileExistsError:
                if self.owner(key) is not None:
                    return False
                # stale: replace it under the directory lock, where the owner is read again --
                # unlocked, two takers could both find it stale and the second would move the
                # first's fresh claim aside
                with directory_lock(self.dir.parent):
                    if self.owner(key) is not None:
                        return False
                    try:
                        os.rename(path, self.dir / f".stale-{key}-{uuid.uuid4().hex[:8]}")
                    except FileNotFoundError:
                        pass
                    try:
                        os.link(tmp, path)
                    except FileExistsError:
                        return False  # a free claim, taken by another process just now
            self.mine.add(key)
            return True
        finally:
            tmp.unlink(missing_ok=True)
            for p in self.dir.glob(f".stale-{key}-*"):
                p.unlink(missing_ok=True)

    def release(self, key: str) -> None:
        if key in self.mine:
            self._path(key).unlink(missing_ok=True)
            self.mine.discard(key)

    def release_all(self) -> None:
        for key in list(self.mine):
            self.release(key)

    def listing(self) -> list[dict]:
        """Every claim but this process's, for ``groklab status``: {"key", "alive" (False: its
        owner is gone -- the next command or ``--repair`` removes it), and what the claim file
        says}."""
        if not self.dir.is_dir():
            return []
        out = []
        for p in sorted(self.dir.iterdir()):
            if p.name.startswith(".") or p.name in self.mine:
                continue
            try:
                info = json.loads(p.read_text())
            except FileNotFoundError:
                continue  # released since the listing
            except (OSError, ValueError):
                info = {}
            if not isinstance(info, dict):
                info = {}
            out.append({**info, "key": p.name,
                        "alive": bool(_alive(info) and info.get("token"))})
        return out

    def clear_stale(self) -> int:
        """Remove claims whose owner is gone, and what dead takers left; return how many
        claims.  Call under the directory lock."""
        n = 0
        if self.dir.is_dir():
            for p in self.dir.iterdir():
                if p.name.startswith("."):
                    if _leftover(p.name):
                        p.unlink(missing_ok=True)
                elif self.owner(p.name) is None:
                    p.unlink(missing_ok=True)
                    n += 1
        return n


def _leftover(name: str) -> bool:
    """A dot file of .claims/ that no live process will use: a claim moved aside, or the
    temporary file of a taker that is gone (another live taker's is about to be linked)."""
    if not name.startswith(NEW):
        return True  # .stale-*: moved aside, nobody reads it
    fields = name[len(NEW):].split("-")
    try:
        alive = process_alive(fields[1], int(fields[2]))
    except (IndexError, ValueError):
        return True  # an older layout's name
    return alive is False
