"""Files a user names (``--output-json``, ``--out``, ``--plot``, ``--trades``, ``--user-data``):
checked before the work starts, written atomically after it.

Why one module: a path can pass a permission check and still refuse a write (``/proc/nope`` as
root: ``os.access`` says yes, ``mkdir`` says no), and a write that fails half-way must leave
neither a truncated file nor a traceback after minutes of training and a registered model. So the
check really tries (a temporary file, removed at once, the folder's times restored), and every
write goes to a temporary file beside the target that replaces it in one ``os.replace``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from candor.errors import ConfigError, OutputError


def _nearest_existing(folder: Path) -> Path:
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return existing


def check_writable(folder: Path | str, flag: str) -> None:
    """``folder`` exists as, or can be created under, a directory that takes a new file; else a
    :class:`ConfigError` naming ``flag`` (exit 3), before any work. Nothing is left behind: the
    probe file is removed and the folder's access and modification times are put back."""
    existing = _nearest_existing(Path(folder))
    if not existing.is_dir():
        raise ConfigError(f"`{flag}` cannot be written: {str(existing)!r} is a file, not a directory.")
    if not os.access(existing, os.W_OK):
        raise ConfigError(f"`{flag}` cannot be written: {str(existing)!r} is not writable.")
    try:
        times = existing.stat()
        handle, probe = tempfile.mkstemp(prefix=".candor-probe-", dir=existing)
    except OSError as exc:
        raise ConfigError(f"`{flag}` cannot be written: {str(existing)!r} does not take new files "
                          f"({exc.strerror or type(exc).__name__}).") from None
    os.close(handle)
    os.unlink(probe)
    try:
        os.utime(existing, ns=(times.st_atime_ns, times.st_mtime_ns))
    except OSError:  # pragma: no cover - times we may not set: the probe is gone all the same
        pass


def _umask() -> int:
    """The process's umask (read by setting it and putting it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path | str, write: Callable[[Path], object], *, what: str = "output") -> Path:
    """Call ``write(temporary path)`` beside ``path``, then move it onto ``path`` in one step.
    A failure removes the temporary file and raises :class:`OutputError` (one line, exit 1)."""
    target = Path(path)
    temporary: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(handle)
        temporary = Path(name)
        write(temporary)
        # mkstemp makes the file 0600: give it the mode a plain open() would (or the replaced file's)
        os.chmod(temporary, target.stat().st_mode & 0o7777 if target.exists() else 0o666 & ~_umask())
        os.replace(temporary, target)
    except OSError as exc:
        raise OutputError(f"the {what} could not be written to {str(target)!r}: "
                          f"{exc.strerror or type(exc).__name__}; nothing was written there.") from None
    finally:
        if temporary is not None and temporary.exists():
            temporary.unlink(missing_ok=True)
    return target


def write_text_atomic(path: Path | str, text: str, *, what: str = "output") -> Path:
    """:func:`write_atomic` of ``text`` (UTF-8)."""
    return write_atomic(path, lambda temporary: temporary.write_text(text, encoding="utf-8"), what=what)
