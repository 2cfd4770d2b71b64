"""A throwaway PostgreSQL server for the Redshift connector tests and benchmark.

``PostgresServer`` initdb's a cluster in a fresh temporary directory, starts it on a free
loopback port (unix sockets in the same directory), and removes everything on ``stop()``.
PostgreSQL refuses to run as root, so when the tests run as root (CI containers) the server
runs as the ``postgres`` system user (created by the Debian package) or, failing that, ``nobody``.

The test role authenticates with **md5** (the password is stored as md5 too): the
redshift_connector's SCRAM handshake fails against PostgreSQL 15. Local connections (the
admin role used to create tables) are trusted.

Used by the Redshift sandbox (``tether/sandbox/redshift.py``), ``tests/redshift_fixtures.py``
and the Redshift benchmarks.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ADMIN = "tether_admin"
DATABASE = "analytics"
USER = "tether_reader"
DAILY_ROWS = 5_000  # rows in sales.daily for the tests
PASSWORD = "s3cret-Pa55'word"  # a quote on purpose: the connector must never format it into SQL


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries here (or no unprivileged user to run them as)."""


def find_bin_dir() -> Path:
    """The directory with ``initdb``/``pg_ctl``/``psql``: $TETHER_PG_BIN, the ``pgserver`` wheel,
    Debian's layout, or PATH."""
    explicit = os.environ.get("TETHER_PG_BIN")
    if explicit:
        if not (Path(explicit) / "initdb").exists():
            raise PostgresUnavailable(f"$TETHER_PG_BIN={explicit} has no initdb")
        return Path(explicit)
    bundled = _pgserver_bin_dir()
    if bundled is not None:
        return bundled
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    raise PostgresUnavailable(
        "no PostgreSQL binaries found (looked in $TETHER_PG_BIN, /usr/lib/postgresql/*/bin and "
        "PATH); install them with `apt-get install -y postgresql`"
    )


def _pgserver_bin_dir() -> Path | None:
    """PostgreSQL's binaries from the ``pgserver`` wheel, when installed (``make`` installs it):
    a real PostgreSQL with nothing but pip. Found without importing it (its import is slow)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        return None
    bin_dir = Path(spec.origin).parent / "pginstall" / "bin"
    return bin_dir if (bin_dir / "initdb").exists() else None


def _run_as() -> list[str]:
    """Command prefix that drops root privileges, or nothing when not root."""
    if os.geteuid() != 0:
        return []
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return ["runuser", "-u", name, "--"]
    raise PostgresUnavailable("running as root and neither a 'postgres' nor a 'nobody' user exists")


def _reachable(bin_dir: Path, run_as: list[str]) -> Path:
    """``bin_dir``, or a copy of its PostgreSQL install that the unprivileged user can run.

    Root drops to ``postgres``/``nobody`` to run the server, and a venv inside a private folder
    (``mktemp -d`` makes it 0700) is out of that user's reach: "initdb: Permission denied". The
    install (bin, lib, share and the wheel's bundled libraries: ~35 MB) is then copied once to
    /tmp, keyed by where it came from.
    """
    probe = [*run_as, "test", "-x", str(bin_dir / "initdb")]
    if not run_as or subprocess.run(probe, cwd="/", capture_output=True).returncode == 0:
        return bin_dir
    # The wheel's binaries find their libraries through RPATH $ORIGIN/../../../pgserver.libs:
    # the copy keeps that layout (<copy>/pgserver/pginstall/bin beside <copy>/pgserver.libs).
    install = bin_dir.parent
    package = install.parent
    key = hashlib.sha256(str(install.resolve()).encode()).hexdigest()[:12]
    copy = Path("/tmp") / f"tether-pginstall-{key}"
    copied_bin = copy / package.name / install.name / bin_dir.name
    if not (copied_bin / "initdb").exists():
        staging = Path(tempfile.mkdtemp(prefix="tether-pginstall-", dir="/tmp"))
        try:
            shutil.copytree(install, staging / "pg" / package.name / install.name, symlinks=True)
            libs = package.parent / f"{package.name}.libs"
            if libs.is_dir():
                shutil.copytree(libs, staging / "pg" / libs.name, symlinks=True)
            for folder in (staging / "pg", staging / "pg" / package.name):
                folder.chmod(0o755)
            with contextlib.suppress(OSError):  # a parallel test worker copied it first
                os.rename(staging / "pg", copy)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return copied_bin


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    """One PostgreSQL cluster on 127.0.0.1; ``start()`` / ``stop()`` or use as a context manager."""

    root: Path | None = None
    port: int = 0
    bin_dir: Path | None = None
    password: str = PASSWORD

    def start(self) -> PostgresServer:
        self.bin_dir = self.bin_dir or find_bin_dir()
        self._as = _run_as()
        self.bin_dir = _reachable(self.bin_dir, self._as)
        # /tmp when dropping root: the unprivileged user must reach it ($TMPDIR may be private)
        self.root = Path(tempfile.mkdtemp(prefix="tether-pg-", dir="/tmp" if self._as else None))
        if self._as:
            user = pwd.getpwnam(self._as[2])
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._initdb()
        last_error = ""
        for _ in range(5):  # the free port can be taken between probing and binding
            self.port = free_port()
            started = self._pg(
                "pg_ctl", "-D", str(self.data_dir), "-l", str(self.root / "server.log"),
                "-o", f"-p {self.port}", "-w", "-t", "30", "start", check=False,
            )  # fmt: skip
            if started.returncode == 0:
                break
            last_error = started.stdout + started.stderr + self.log_tail()
        else:
            self.stop()
            raise RuntimeError(f"PostgreSQL did not start:\n{last_error}")
        self.psql(
            f"SET password_encryption = 'md5';"
            f"CREATE ROLE {USER} LOGIN PASSWORD {_literal(self.password)};"
            f"CREATE DATABASE {DATABASE} OWNER {USER};"
        )
        return self

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    def _initdb(self) -> None:
        self._pg(
            "initdb", "-D", str(self.data_dir), "-U", ADMIN, "-E", "UTF8", "--locale=C",
            "--auth-local=trust", "--auth-host=md5", "--no-sync",
        )  # fmt: skip
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'",
            "password_encryption": "'md5'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "30",
            "shared_buffers": "64MB",
            "timezone": "'UTC'",
        }
        conf = "".join(f"{k} = {v}\n" for k, v in settings.items())
        subprocess.run(
            [*self._as, "sh", "-c", f"cat >> {self.data_dir}/postgresql.conf"],
            input=conf, text=True, check=True,
        )  # fmt: skip

    def _pg(
        self, tool: str, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        assert self.bin_dir is not None
        done = subprocess.run(
            [*self._as, str(self.bin_dir / tool), *args],
            input=stdin, capture_output=True, text=True, cwd="/",
        )  # fmt: skip
        if check and done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL (one autocommitted statement at a time) as the admin over the unix socket."""
        done = self._pg(
            "psql", "-h", str(self.root), "-p", str(self.port), "-U", ADMIN, "-d", database,
            "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-f", "-", stdin=sql,
        )  # fmt: skip
        return done.stdout

    def log_tail(self, lines: int = 20) -> str:
        assert self.root is not None
        log = self.root / "server.log"
        return "\n".join(log.read_text().splitlines()[-lines:]) if log.exists() else ""

    def stop(self) -> None:
        if self.root is None:
            return
        if (self.data_dir / "postmaster.pid").exists():
            self._pg("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


CHANNELS = ("online_store", "pos", "wholesale")
SKUS = 500


def create_sales_daily(
    server: PostgresServer, rows: int, table: str = "sales.daily", skus: int = SKUS
) -> None:
    """Deterministic daily sales: row i is SKU-{i % skus}, channel (i // skus) % 3, day
    i // (skus * 3).

    ``updated_at`` rises one second per row from 2025-01-01 so incremental tests can pick a
    cursor in the middle; every (order_date, sku, channel) is unique.
    """
    channels = "ARRAY[" + ",".join(_literal(c) for c in CHANNELS) + "]"
    server.psql(
        f"""
        CREATE SCHEMA IF NOT EXISTS sales AUTHORIZATION {USER};
        DROP TABLE IF EXISTS {table};
        CREATE TABLE {table} AS
        SELECT (DATE '2024-01-01' + (i / {skus * len(CHANNELS)})::int) AS order_date,
               'SKU-' || lpad((i % {skus})::text, 5, '0') AS sku,
               ({channels})[(i / {skus}) % {len(CHANNELS)} + 1] AS channel,
               (i * 7 % 13 + 1)::int AS quantity,
               ((i * 7 % 13 + 1) * 4.25)::numeric(12, 2) AS revenue,
               TIMESTAMP '2025-01-01 00:00:00' + i * INTERVAL '1 second' AS updated_at
        FROM generate_series(0, {rows - 1}) AS i;
        ALTER TABLE {table} OWNER TO {USER};
        """,
        database=DATABASE,
    )
