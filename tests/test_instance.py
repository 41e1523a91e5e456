"""The single-instance socket lives where only this user can reach it."""

from __future__ import annotations

import os
import pwd
import socket
import stat
from pathlib import Path

import pytest

from tokentray.instance import owned_by_me, peer_is_me, socket_path


def test_the_socket_is_in_the_private_runtime_folder(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    path = socket_path(tmp_path / "data", {"XDG_RUNTIME_DIR": str(runtime)})
    assert path is not None and Path(path).parent == runtime / "tokentray"
    assert stat.S_IMODE((runtime / "tokentray").stat().st_mode) == 0o700


def test_without_a_runtime_folder_the_private_data_folder_is_used(tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = socket_path(data, {})
    assert path is not None and Path(path).parent == data
    assert not path.startswith("/tmp/tokentray")  # never a shared, guessable place
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


def test_a_data_folder_given_relative_gets_an_absolute_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--data-dir data``: Qt would put a relative socket name under the temp folder,
    where its folders do not exist ("QLocalServer::listen: Name error")."""
    monkeypatch.chdir(tmp_path)
    path = socket_path(Path("data"), {})
    assert path is not None and Path(path).is_absolute()
    assert Path(path).parent == tmp_path / "data"


def test_a_folder_planted_by_someone_else_is_not_used(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir()
    elsewhere = tmp_path / "attacker"
    elsewhere.mkdir()
    (runtime / "tokentray").symlink_to(elsewhere)  # not a folder of ours
    path = socket_path(tmp_path / "data", {"XDG_RUNTIME_DIR": str(runtime)})
    assert path is not None and Path(path).parent == tmp_path / "data"
    if os.getuid() == 0:  # root can plant a real folder owned by another user
        other = tmp_path / "run2"
        (other / "tokentray").mkdir(parents=True)
        os.chown(other / "tokentray", pwd.getpwnam("nobody").pw_uid, -1)
        path = socket_path(tmp_path / "data", {"XDG_RUNTIME_DIR": str(other)})
        assert path is not None and Path(path).parent == tmp_path / "data"


def test_only_sockets_of_this_user_are_spoken_to(tmp_path: Path) -> None:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path = str(tmp_path / "s.sock")
    server.bind(path)
    try:
        assert owned_by_me(path)
        (tmp_path / "plain").write_text("x")
        assert not owned_by_me(str(tmp_path / "plain"))
        if os.getuid() == 0:
            os.chown(path, pwd.getpwnam("nobody").pw_uid, -1)
            assert not owned_by_me(path)
    finally:
        server.close()


def test_the_peer_of_a_local_connection_is_checked() -> None:
    left, right = socket.socketpair()
    with left, right:
        assert peer_is_me(left.fileno())
        left.send(b"x")  # the original descriptor still works after the check
        assert right.recv(1) == b"x"


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to run a peer as another user")
def test_a_peer_of_another_user_is_refused() -> None:
    import subprocess

    address = f"\0tokentray-test-{os.getpid()}"  # abstract: no folder permissions in the way
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(address)
    server.listen(1)
    nobody = pwd.getpwnam("nobody")
    python = "/usr/bin/python3"
    if not Path(python).exists():
        pytest.skip("no system python for the other user")
    connect = f"import socket,time; s=socket.socket(socket.AF_UNIX); s.connect({address!r})"
    client = subprocess.Popen(
        [python, "-c", connect + "; time.sleep(2)"], user=nobody.pw_uid, group=nobody.pw_gid
    )
    server.settimeout(20)
    try:
        connection, _ = server.accept()
        with connection:
            assert not peer_is_me(connection.fileno())
    finally:
        client.kill()
        server.close()
