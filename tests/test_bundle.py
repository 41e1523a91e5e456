"""The things a user installs: the PyInstaller one-folder bundle (built here, then its
`--version`, `snapshot` and `doctor` run offscreen), and the wheel installed with pipx
into a fresh environment of its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "pyinstaller" / "tokentray.spec"
BIN = Path(sys.executable).parent


def quiet_env(tmp_path: Path) -> dict[str, str]:
    """No agent folders, no desktop: what a first run on a server sees."""
    return {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "CLAUDE_CONFIG_DIR": str(tmp_path / "none"),
        "CODEX_HOME": str(tmp_path / "none"),
        "QT_QPA_PLATFORM": "offscreen",
        "TOKENTRAY_CONFIG_DIR": str(tmp_path / "config"),
        "TOKENTRAY_LOG_DIR": str(tmp_path / "logs"),
    }


def test_the_pyinstaller_bundle_runs(tmp_path: Path) -> None:
    pyinstaller = BIN / "pyinstaller"
    assert pyinstaller.exists(), "pyinstaller comes with the test extras"
    subprocess.run(
        [
            str(pyinstaller),
            "--noconfirm",
            "--log-level",
            "ERROR",
            "--distpath",
            str(tmp_path / "dist"),
            "--workpath",
            str(tmp_path / "build"),
            str(SPEC),
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )
    program = (
        tmp_path / "dist" / "tokentray" / ("tokentray.exe" if os.name == "nt" else "tokentray")
    )
    env = quiet_env(tmp_path)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(program), "--data-dir", str(tmp_path / "data"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    version = run("--version")
    assert version.returncode == 0 and version.stdout.strip() == "tokentray 0.1.0"
    shots = run("snapshot", "--out", str(tmp_path / "shots"))
    assert shots.returncode == 0, shots.stderr
    pictures = {p.name for p in (tmp_path / "shots").glob("*.png")}
    assert {"tray-icons.png", "graph-window.png", "graph-window-insight.png"} <= pictures
    doctor = run("doctor", "--json")
    assert doctor.returncode == 0, doctor.stderr
    report = json.loads(doctor.stdout)
    # Metadata and data files made it into the bundle: versions, prices, keyring backends.
    assert report["versions"]["qt"][0].isdigit()
    assert report["versions"]["prices (genai-prices)"][0].isdigit()
    assert any(c["name"] == "Keyring" for c in report["checks"])
    prices = run("prices", "claude-sonnet-4-5")
    assert prices.returncode == 0 and "claude-sonnet-4-5: 3" in prices.stdout, prices.stdout
    # The bundle carries its icons and entry, and the entry starts the bundle itself.
    env["XDG_DATA_HOME"] = str(tmp_path / "share")
    assert run("install-desktop").returncode == 0
    entry = (tmp_path / "share" / "applications" / "tokentray.desktop").read_text()
    assert f"Exec={program}" in entry
    assert (tmp_path / "share" / "icons" / "hicolor" / "48x48" / "apps" / "tokentray.png").is_file()


def test_pipx_installs_the_wheel(tmp_path: Path) -> None:
    pipx = BIN / "pipx"
    assert pipx.exists(), "pipx comes with the test extras"
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("tokentray-*.whl")
    env = {
        **quiet_env(tmp_path),
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
    }
    done = subprocess.run(
        [str(pipx), "install", "--python", sys.executable, str(wheel)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    installed = tmp_path / "bin" / "tokentray"
    version = subprocess.run(
        [str(installed), "--version"], env=env, capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == "tokentray 0.1.0"
    # The installed package carries its desktop files: install-desktop works from pipx.
    share = tmp_path / "share"
    subprocess.run(
        [str(installed), "install-desktop"],
        env={**env, "XDG_DATA_HOME": str(share)},
        check=True,
        capture_output=True,
    )
    assert (share / "icons" / "hicolor" / "256x256" / "apps" / "tokentray.png").is_file()
    entry = (share / "applications" / "tokentray.desktop").read_text()
    # Exec names pipx's own copy of the program, which works without PATH.
    assert f"Exec={tmp_path / 'pipx' / 'venvs' / 'tokentray' / 'bin' / 'tokentray'}" in entry
    shutil.rmtree(tmp_path / "pipx", ignore_errors=True)
