"""Which file system holds a path, and whether SQLite can lock files safely on it.

SQLite's locking (and WAL's shared memory) rely on POSIX advisory locks and
mmap working as on a local disk. Network file systems (NFS, SMB/CIFS, sshfs,
9p, cluster file systems) are known to break them, which corrupts databases
used by two processes. Linux only: the mount table is ``/proc/mounts``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

MOUNTS_FILE = Path("/proc/mounts")

NETWORK_TYPES = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "ncpfs", "afs", "coda",
        "9p", "ceph", "glusterfs", "lustre", "gpfs", "beegfs", "orangefs", "ocfs2", "gfs2",
        "davfs", "vboxsf", "prl_fs", "vmhgfs", "drvfs",
    }
)  # fmt: skip
"""File system types on which SQLite locking is unreliable."""

NETWORK_FUSE = ("sshfs", "s3fs", "rclone", "gcsfuse", "glusterfs", "ceph", "davfs", "juicefs")
"""FUSE back-ends (``fuse.<name>``) that are network file systems."""

_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True, slots=True)
class Mount:
    """One line of the mount table."""

    device: str
    mount_point: str
    fs_type: str

    @property
    def network(self) -> bool:
        """Whether SQLite locking is unsafe on this mount."""
        return is_network(self.fs_type)


def is_network(fs_type: str) -> bool:
    """``nfs4``, ``cifs``, ``fuse.sshfs``... → True; ``ext4``, ``overlay``, ``tmpfs`` → False."""
    kind = fs_type.lower()
    if kind in NETWORK_TYPES or kind.startswith("nfs"):
        return True
    if kind.startswith(("fuse.", "fuseblk.")):
        backend = kind.split(".", 1)[1]
        return any(name in backend for name in NETWORK_FUSE)
    return False


def parse_mounts(text: str) -> list[Mount]:
    """The mount table (``/proc/mounts`` format; ``\\040``-style escapes undone)."""
    mounts = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            device, point, kind = (
                _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), p) for p in parts[:3]
            )
            mounts.append(Mount(device, point, kind))
    return mounts


def read_mounts(source: Path = MOUNTS_FILE) -> list[Mount] | None:
    """The system's mount table, or None where there is none (not Linux)."""
    try:
        return parse_mounts(source.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None


def existing_ancestor(path: Path) -> Path:
    """``path`` itself if it exists, else its nearest existing parent (resolved)."""
    current = path.expanduser().absolute()
    while not current.exists() and current != current.parent:
        current = current.parent
    return Path(os.path.realpath(current))


def mount_of(path: Path, mounts: list[Mount]) -> Mount | None:
    """The mount holding ``path`` (or, if it does not exist yet, its nearest parent)."""
    return mount_for(str(existing_ancestor(path)), mounts)


def mount_for(target: str, mounts: list[Mount]) -> Mount | None:
    """The mount whose mount point is the longest prefix of the absolute path ``target``."""
    best: Mount | None = None
    for mount in mounts:
        point = mount.mount_point.rstrip("/") or "/"
        inside = target == point or target.startswith(point + "/") or point == "/"
        # The last match of the longest mount point wins: later mounts shadow earlier ones.
        if inside and (best is None or len(point) >= len(best.mount_point.rstrip("/") or "/")):
            best = mount
    return best
