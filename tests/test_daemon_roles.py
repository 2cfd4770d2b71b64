"""Roles from real peer uids: clients run as other Unix users (setpriv) against one daemon."""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import WorkspaceBuilder
from daemon_support import running_daemon, shop_workspace

GROUP = "tether_t_sock"
VIEWER, OPERATOR, OUTSIDER = "tether_t_viewer", "tether_t_oper", "tether_t_outside"


def _others_can_import_tether() -> bool:
    """Other users must reach this checkout and its venv (a `mktemp -d` clone is 0700)."""
    import httpx

    import tether

    for module in (tether, httpx):
        for folder in Path(str(module.__file__)).resolve().parents:
            if not folder.stat().st_mode & stat.S_IXOTH:
                return False
    return True


pytestmark = [
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("setpriv"),
        reason="needs root, useradd and setpriv to act as other users",
    ),
    pytest.mark.skipif(
        not _others_can_import_tether(),
        reason="other users cannot traverse the checkout or its venv (a parent folder lacks o+x)",
    ),
]

CLIENT = """
import json, sys
from pathlib import Path
from tether.daemon.remote import DaemonClient
from tether.errors import TetherError

out = {}
try:
    client = DaemonClient.try_connect(Path(sys.argv[1]))
except TetherError as exc:
    print(json.dumps({"connect": type(exc).__name__ + ": " + exc.message}))
    sys.exit(0)
for name, params in json.loads(sys.argv[2]):
    try:
        result = client.call(name, **params)
        out[name] = "ok" if not isinstance(result, dict) else result.get("paused", "ok")
    except TetherError as exc:
        out[name] = type(exc).__name__ + ": " + exc.message
print(json.dumps(out))
"""


def _ensure_group(name: str) -> None:
    try:
        grp.getgrnam(name)
    except KeyError:
        subprocess.run(["groupadd", name], check=True)


def _ensure_user(name: str, groups: list[str]) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        cmd = ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name]
        if groups:
            cmd[1:1] = ["--groups", ",".join(groups)]
        subprocess.run(cmd, check=True)


@pytest.fixture(scope="module")
def users() -> None:
    _ensure_group(GROUP)
    _ensure_user(VIEWER, [GROUP])
    _ensure_user(OPERATOR, [GROUP])
    _ensure_user(OUTSIDER, [])


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    # pytest's tmp dirs are private to root; the socket must sit where others can reach it.
    path = Path(tempfile.mkdtemp(prefix="tether-roles-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def as_user(user: str, socket: Path, calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    proc = subprocess.run(
        ["setpriv", f"--reuid={user}", f"--regid={pwd.getpwnam(user).pw_gid}", "--init-groups",
         sys.executable, "-c", CLIENT, str(socket), json.dumps(calls)],
        capture_output=True, text=True, env={**os.environ, "HOME": "/tmp"}, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_each_uid_gets_its_role_and_the_socket_admits_only_its_group(
    users: None, workspace: WorkspaceBuilder, monkeypatch: Any, socket_dir: Path
) -> None:
    ws = shop_workspace(workspace, monkeypatch)
    socket = socket_dir / "tether.sock"
    toml = ws.root / "tether.toml"
    toml.write_text(
        toml.read_text().replace("[access]\n", f'[access]\noperators = ["{OPERATOR}"]\n')
        + f'\n[daemon]\nsocket = "{socket}"\nsocket_group = "{GROUP}"\n'
    )
    with running_daemon(ws):
        mode = socket.stat()
        assert stat.S_IMODE(mode.st_mode) == 0o660
        assert mode.st_gid == grp.getgrnam(GROUP).gr_gid

        viewer = as_user(VIEWER, socket, [("status", {}), ("pause", {"integration": "shop"})])
        assert viewer["status"] == "ok"
        assert viewer["pause"] == (
            "PermissionDeniedError: Permission denied: 'pause' needs the operator role; "
            "you are a viewer."
        )

        operator = as_user(
            OPERATOR,
            socket,
            [("pause", {"integration": "shop", "reason": "audit"}),
             ("reset", {"integration": "shop", "confirm": "shop"})],
        )  # fmt: skip
        assert operator["pause"] is True
        assert operator["reset"].startswith(
            "PermissionDeniedError: Permission denied: 'reset' needs the admin role"
        )

        outsider = as_user(OUTSIDER, socket, [("status", {})])
        assert "may not use its socket" in outsider["connect"]
    assert ws.query("SELECT paused_by, paused_reason FROM integrations") == [(OPERATOR, "audit")]
    assert ws.query("SELECT actor FROM audit_log WHERE action = 'pause'") == [(OPERATOR,)]
