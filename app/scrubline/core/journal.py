"""Which SQLite journal a case file is written with: WAL on local disks, DELETE on network ones.

WAL (the default) lets the window read a case while an analysis writes it and keeps a crash to
the batch in flight, but it needs a shared-memory index (`CASE.scrub-shm`) that every process
using the file maps; on NFS, SMB/CIFS and other network or cluster filesystems processes on
different hosts do not share that memory, and SQLite's documentation says WAL "does not work
over a network filesystem". A department that writes its cases to shared storage from a cluster
(`scrubline batch --out-dir /shared/...`) therefore gets the rollback journal (`DELETE`): one
writer at a time, readers wait while a batch commits, and every transaction still survives a
crash. The choice is made per case file when it is opened for writing:

- `journal="wal"` or `"delete"` (`scrubline batch --journal`, `analyse_video(journal=...)`),
- else `SCRUBLINE_JOURNAL` in the environment (so workers of a cluster can be told once),
- else `delete` when the case's folder is on a network filesystem, `wal` otherwise.

Detection reads the mount table (`psutil.disk_partitions`) and picks the mount point that
holds the folder; a UNC path (`\\\\server\\share`) counts as network on Windows. When the mount
table cannot be read the answer is WAL, as before: pass `--journal delete` then.
"""

from __future__ import annotations

import os
from pathlib import Path

JOURNAL_ENV = "SCRUBLINE_JOURNAL"
JOURNAL_MODES = ("wal", "delete")

# Filesystem types whose files are shared between hosts (as the mount table names them).
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb",
        "smbfs",
        "smb2",
        "smb3",
        "ncpfs",
        "afs",
        "9p",
        "lustre",
        "gpfs",
        "beegfs",
        "ceph",
        "cephfs",
        "glusterfs",
        "fuse.glusterfs",
        "fuse.cephfs",
        "fuse.sshfs",
        "sshfs",
        "davfs",
        "fuse.davfs2",
        "webdav",
        "panfs",
        "orangefs",
        "pvfs2",
    }
)


class JournalError(ValueError):
    """A journal mode that is neither wal nor delete (from an option or SCRUBLINE_JOURNAL); the
    case store turns it into its own StoreError."""


def network_filesystem(path: str | os.PathLike[str]) -> str | None:
    """The type of the network filesystem holding `path` (or its nearest existing folder), or
    None for a local one or when the mount table cannot be read."""
    target = Path(path).absolute()
    while not target.exists() and target != target.parent:
        target = target.parent
    text = str(target)
    if os.name == "nt" and text.startswith("\\\\"):
        return "unc"
    try:
        import psutil

        partitions = psutil.disk_partitions(all=True)
        resolved = target.resolve()
    except Exception:  # no mount table to read here: say local, as before this check existed
        return None
    best: tuple[int, str] | None = None
    for partition in partitions:
        mount = Path(partition.mountpoint)
        if resolved == mount or mount in resolved.parents:
            depth = len(mount.parts)
            if best is None or depth > best[0]:
                best = (depth, partition.fstype.lower())
    if best is None:
        return None
    fstype = best[1]
    return fstype if fstype in NETWORK_FILESYSTEMS or fstype.startswith("nfs") else None


def journal_mode(path: str | os.PathLike[str], requested: str | None = None) -> str:
    """ "wal" or "delete" for a case file at `path` (see the module docstring for the order)."""
    choice = requested or os.environ.get(JOURNAL_ENV) or ""
    choice = choice.strip().lower()
    if choice:
        if choice not in JOURNAL_MODES:
            source = "" if requested else f" (from {JOURNAL_ENV})"
            raise JournalError(
                f"journal mode '{choice}'{source} is not one of {', '.join(JOURNAL_MODES)}"
            )
        return choice
    return "delete" if network_filesystem(Path(path).parent) else "wal"
