"""Where the single-instance socket lives, and whom to trust on it (no Qt here).

A socket with a predictable name in a shared folder (``/tmp``) can be created
first by another user, who then owns "the running tokentray". The socket lives
in a folder only this user can enter: ``$XDG_RUNTIME_DIR/tokentray`` or, without
one, the data folder (0700). A socket or folder owned by someone else is never used.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import stat
import struct
import sys
from collections.abc import Mapping
from pathlib import Path

from tokentray.paths import make_private

log = logging.getLogger(__name__)

MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS


def private_folder(folder: Path) -> bool:
    """Create ``folder`` 0700, or accept it if it is ours and closed to others."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = folder.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        return False  # a symlink or a folder planted by someone else
    make_private(folder, 0o700)
    return not stat.S_IMODE(folder.stat().st_mode) & 0o077


def socket_path(data_dir: Path, env: Mapping[str, str] | None = None) -> str | None:
    """The socket for this user and data folder; None when no private place exists.

    On Windows the name is a named pipe, which is private to the session already."""
    digest = hashlib.sha1(str(data_dir.resolve()).encode()).hexdigest()[:10]
    if sys.platform == "win32":
        return f"tokentray-{digest}"
    env = os.environ if env is None else env
    candidates = []
    runtime = env.get("XDG_RUNTIME_DIR", "").strip()
    if runtime and Path(runtime).is_absolute():
        candidates.append(Path(runtime) / "tokentray")
    candidates.append(data_dir.absolute())  # a relative name would go under Qt's temp folder
    for folder in candidates:
        path = folder / f"tray-{digest}.sock"
        if len(str(path)) <= MAX_SOCKET_PATH and private_folder(folder):
            return str(path)
    log.warning("no private folder for the single-instance socket: each launch runs alone")
    return None


def owned_by_me(path: str) -> bool:
    """Whether the socket file exists and belongs to this user (never talk to another's)."""
    if sys.platform == "win32":
        return True
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISSOCK(st.st_mode) and st.st_uid == os.getuid()


def peer_is_me(descriptor: int) -> bool:
    """Whether the process at the other end of a Unix socket runs as this user."""
    if not hasattr(socket, "SO_PEERCRED"):
        return True  # other systems: the private folder is the guard
    probe = socket.socket(fileno=os.dup(descriptor))
    try:
        raw = probe.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return False
    finally:
        probe.close()  # closes the duplicate only
    _pid, uid, _gid = struct.unpack("3i", raw)
    return bool(uid == os.getuid())
