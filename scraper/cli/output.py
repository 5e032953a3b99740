"""Writing a command's output (``feed -o``): never a half-written file, never a replaced device.

What the target is decides how it is written:

- a regular file, or a name not there yet: atomically (a temp file in the same
  directory, fsync, rename over the target, fsync the directory), so readers
  see the old or the new file, never a torn one, and a failed write leaves the
  old file; a symlink to a regular file replaces the file it points to, not
  the link;
- a character or block device, a FIFO (``/dev/null``, ``/dev/stdout``, a
  named pipe): opened for writing and written in place.  Renaming a temp file
  onto it would replace the device node with a regular file (as root: the
  machine's ``/dev/null``);
- a Unix socket: connected to, and the data sent;
- the process's own standard output or error (``/dev/stdout`` while it is
  redirected to a regular file): written in place, since replacing that file
  would leave the shell's stream pointing at the unlinked old one;
- ``-`` (``write_output`` only): standard output;
- a directory, or a path whose parent directory is missing: ``OSError``
  (``IsADirectoryError`` / ``FileNotFoundError``).  No directory is created:
  a typo in ``-o`` must not grow a folder tree.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["STDOUT", "check_target", "open_output", "write_atomically", "write_output"]

STDOUT = "-"
FILE_MODE = 0o644


def check_target(target: str) -> None:
    """``OSError`` now for a target that cannot be written (a directory, a missing parent
    folder), so a command finds out before it opens the store or renders anything."""
    if target == STDOUT:
        return
    path = Path(target)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "it is a directory", target)
    _check_parent(path)


def write_output(target: str, data: bytes) -> None:
    """``data`` to ``target``: ``-`` is standard output, anything else ``write_atomically``."""
    if target == STDOUT:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        write_atomically(target, data)


def write_atomically(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` as the module docstring says; ``OSError`` when it cannot."""
    target = Path(path)
    try:
        info = target.stat()  # follows symlinks: what the name finally is
    except (FileNotFoundError, NotADirectoryError):
        info = None  # _replace_file names the missing or wrong parent
    if info is None:
        _replace_file(target, data)
    elif stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "it is a directory", str(target))
    elif (stream := _own_stream(info)) is not None:
        stream.write(data)
        stream.flush()
    elif stat.S_ISSOCK(info.st_mode):
        _send_to_socket(target, data)
    elif not stat.S_ISREG(info.st_mode):
        _write_in_place(target, data)
    else:
        _replace_file(Path(os.path.realpath(target)), data)


def _own_stream(info: os.stat_result) -> BinaryIO | None:
    """Our standard output or error if ``info`` is the file it writes to (same device, inode).

    Written through the stream itself, so its offset (``>`` or ``>>``) is kept.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            own = os.fstat(stream.fileno())
        except (OSError, ValueError, AttributeError):
            continue  # closed, or replaced by an object without a descriptor
        if (own.st_dev, own.st_ino) == (info.st_dev, info.st_ino):
            stream.flush()
            return stream.buffer
    return None


def _write_in_place(target: Path, data: bytes) -> None:
    """A device or FIFO: opened for writing (blocks until a FIFO has a reader), no rename."""
    fd = os.open(target, os.O_WRONLY | os.O_NOCTTY)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()


def _send_to_socket(target: Path, data: bytes) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(os.fspath(target))
        sock.sendall(data)


def _check_parent(target: Path) -> Path:
    """The folder ``target`` goes in; FileNotFoundError when it is missing or not a folder."""
    parent = target.parent
    if not parent.is_dir():
        reason = "is not a directory" if parent.exists() else "does not exist"
        raise FileNotFoundError(errno.ENOENT, f"directory {parent} {reason}", str(target))
    return parent


def _replace_file(target: Path, data: bytes) -> None:
    """Temp file in the same directory, fsync, rename: readers never see a half-written file."""
    with contextmanager(_streamed_replace)(target) as fh:
        fh.write(data)


@contextmanager
def open_output(target: str | Path) -> Iterator[BinaryIO]:
    """A binary stream to ``target``, for output written in pieces (``export``).

    The same rules as ``write_output``: ``-`` is standard output; a regular file
    (or a new name) is written to a temp file beside it and renamed over it
    only when the ``with`` block ends without an exception (fsync first), so a
    failed or interrupted export leaves the old file; a device, FIFO, socket
    or our own standard stream is written in place; a directory or a missing
    parent is ``OSError`` before anything is written.
    """
    if os.fspath(target) == STDOUT:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    path = Path(target)
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        info = None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "it is a directory", str(path))
    if info is not None and (stream := _own_stream(info)) is not None:
        yield stream
        stream.flush()
    elif info is not None and stat.S_ISSOCK(info.st_mode):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(os.fspath(path))
            with sock.makefile("wb") as fh:
                yield fh
    elif info is not None and not stat.S_ISREG(info.st_mode):
        fd = os.open(path, os.O_WRONLY | os.O_NOCTTY)
        with os.fdopen(fd, "wb") as fh:
            yield fh
    else:
        yield from _streamed_replace(Path(os.path.realpath(path)) if info is not None else path)


def _streamed_replace(target: Path) -> Iterator[BinaryIO]:
    """Temp file in the target's directory, renamed over it (fsync first) only after the
    caller's block ends without an exception: readers never see a half-written file."""
    parent = _check_parent(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
        dir_fd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
