"""Before Qt starts: can it open a display here? Qt aborts the whole process (it cannot be
caught) when the xcb platform plugin's libraries are missing, which is the case on a plain
Debian or Ubuntu without a desktop's Qt packages. Say what to install instead."""

from __future__ import annotations

import ctypes.util
import os
import sys
from collections.abc import Callable, Mapping

# The libraries Qt 6's xcb plugin loads, and the Debian/Ubuntu package of each.
XCB_LIBRARIES = {
    "xcb-cursor": "libxcb-cursor0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-keysyms": "libxcb-keysyms1",
    "xcb-shape": "libxcb-shape0",
    "xcb-xkb": "libxcb-xkb1",
    "xkbcommon-x11": "libxkbcommon-x11-0",
    "xcb-randr": "libxcb-randr0",
    "xcb-render-util": "libxcb-render-util0",
    "xcb-image": "libxcb-image0",
}


def display_problem(
    env: Mapping[str, str] | None = None,
    find_library: Callable[[str], str | None] = ctypes.util.find_library,
    platform: str = sys.platform,
) -> str | None:
    """A sentence saying why Qt cannot open a window here and how to fix it, or None."""
    env = os.environ if env is None else env
    chosen = env.get("QT_QPA_PLATFORM", "")
    if platform != "linux" or chosen not in ("", "xcb"):
        return None
    if not chosen and env.get("WAYLAND_DISPLAY"):
        return None
    if not env.get("DISPLAY"):
        return (
            "no display to show the tray on (neither DISPLAY nor WAYLAND_DISPLAY is set). "
            "Start tokentray inside your desktop session; on a server, `tokentray watch` "
            "reads the logs and sends alerts without one"
        )
    missing = [package for library, package in XCB_LIBRARIES.items() if not find_library(library)]
    if not missing:
        return None
    return (
        f"Qt cannot open the X display: {', '.join(missing)} "
        f"{'is' if len(missing) == 1 else 'are'} not installed. Install with: "
        f"sudo apt-get install {' '.join(missing)}"
    )
