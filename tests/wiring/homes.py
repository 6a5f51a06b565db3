"""What "a refused command leaves ``<home>`` exactly as it was" compares."""

from __future__ import annotations

from pathlib import Path

Snapshot = dict[str, tuple[str, int, int]]


def snapshot(root: Path) -> Snapshot | None:
    """Every path under ``root`` (``root`` itself included) with its kind, size and mtime; None when
    ``root`` does not exist. Directories count too: a file created and removed changes their mtime."""
    if not root.exists():
        return None
    paths = [root, *sorted(root.rglob("*"))] if root.is_dir() else [root]
    out: Snapshot = {}
    for path in paths:
        stat = path.lstat()
        kind = "dir" if path.is_dir() else "file"
        out[str(path.relative_to(root))] = (kind, stat.st_size if kind == "file" else 0, stat.st_mtime_ns)
    return out
