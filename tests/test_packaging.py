"""The Flatpak manifest: the tray's and notifications' D-Bus names, read-only access to
every agent's default folder (kept in step with the sources), and nothing writable."""

from __future__ import annotations

import json
from pathlib import Path

from tokentray.sources import available_sources

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "packaging" / "flatpak" / "dev.tokentray.tokentray.json"
HOME = Path("/home/me")
PREFIXES = {"~/": HOME, "xdg-config/": HOME / ".config", "xdg-data/": HOME / ".local" / "share"}


def granted() -> list[tuple[Path, str]]:
    manifest = json.loads(MANIFEST.read_text())
    found = []
    for arg in manifest["finish-args"]:
        if not arg.startswith("--filesystem="):
            continue
        place, _, mode = arg.removeprefix("--filesystem=").partition(":")
        for prefix, base in PREFIXES.items():
            if place.startswith(prefix):
                found.append((base / place.removeprefix(prefix), mode))
    return found


def test_the_tray_notifications_and_keyring_can_be_reached() -> None:
    args = json.loads(MANIFEST.read_text())["finish-args"]
    for name in (
        "org.kde.StatusNotifierWatcher",
        "org.freedesktop.Notifications",
        "org.freedesktop.secrets",
    ):
        assert f"--talk-name={name}" in args


def test_every_agent_folder_is_readable_and_none_writable() -> None:
    folders = granted()
    assert folders and all(mode == "ro" for _, mode in folders)
    missing = [
        f"{source.name}: {root}"
        for source in available_sources()
        for root in source.roots({}, HOME)
        if not any(root == folder or folder in root.parents for folder, _ in folders)
    ]
    assert missing == []


def test_the_build_installs_files_that_exist() -> None:
    manifest = json.loads(MANIFEST.read_text())
    (app,) = [m for m in manifest["modules"] if isinstance(m, dict)]
    text = " ".join(app["build-commands"])
    for name in ("resources/tokentray.desktop", "resources/dev.tokentray.tokentray.metainfo.xml"):
        assert name in text and (ROOT / name).is_file()
    assert manifest["app-id"] == "dev.tokentray.tokentray"
