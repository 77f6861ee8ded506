"""A throw-away PostgreSQL server for tests: a cluster in a temporary directory.

    with pg.server() as srv:          # or the pytest fixtures below
        url = srv.new_database()      # postgresql://… of a new, empty database

The server listens on a Unix socket in its own directory only (no TCP port,
so parallel test runs never collide), runs as an unprivileged user when the
tests run as root (initdb refuses root), and is stopped (immediate mode) and
deleted on every way out of the `with`, SIGTERM included.  Every wait is
bounded.

Fixtures: `pg_server` (one server per test session, a PgServer), `pg_url`
(a new empty database for each test) and `store_target` (a new store's
target, once as a SQLite file and once as a PostgreSQL database: a test that
takes it runs on both).  Use them with
`from pg import pg_server, pg_url, store_target  # noqa: F401`.  Without
PostgreSQL installed they skip, unless CI=true: then they fail.
"""
from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from typing import Iterator, Optional

import pytest

START_TIMEOUT_S = 30


def bindir() -> Optional[str]:
    """The newest installed PostgreSQL's bin directory (Debian layout), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[-3]) if p.split("/")[-3].isdigit() else 0)
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def unavailable() -> Optional[str]:
    """Why no test server can be started here, or None when one can."""
    if bindir() is None:
        return "PostgreSQL is not installed (Debian: apt-get install postgresql)"
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg 3 is not installed (Debian: apt-get install python3-psycopg)"
    return None


def require() -> None:
    """Skip the test when no server can be started, except under CI=true, where that is a failure."""
    reason = unavailable()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@dataclass
class PgServer:
    socket_dir: str
    user: str

    def url(self, database: str = "postgres", user: Optional[str] = None) -> str:
        return f"postgresql://{user or self.user}@/{database}?host={self.socket_dir}"

    def new_database(self, name: Optional[str] = None) -> str:
        """Create an empty database; its URL."""
        import psycopg

        name = name or "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def execute(self, url: str, sql: str) -> list[tuple]:
        """Run one statement on a database (for tests that set a database up by hand)."""
        import psycopg

        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []


def _run_as(user: Optional[str], argv: list[str], timeout: float) -> subprocess.CompletedProcess:
    if user is not None:
        argv = ["runuser", "-u", user, "--"] + argv
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While the server runs, SIGTERM unwinds the stack (so the finally below runs) instead of killing."""
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    if previous is not signal.SIG_DFL:
        yield
        return

    def unwind(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, unwind)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def server() -> Iterator[PgServer]:
    """Start a private PostgreSQL cluster; stop and delete it however the block ends."""
    bin_dir = bindir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed")
    # initdb refuses to run as root: the cluster belongs to an unprivileged user.
    run_user = None
    if os.geteuid() == 0:
        for candidate in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                pwd.getpwnam(candidate)
                run_user = candidate
                break
        if run_user is None:
            raise RuntimeError("running as root and there is no postgres or nobody user to own the cluster")
    # Unix socket paths are limited to ~107 bytes: keep the directory name short.
    base = tempfile.mkdtemp(prefix="trfpg-")
    data = os.path.join(base, "data")
    log = os.path.join(base, "log")
    pg_ctl = os.path.join(bin_dir, "pg_ctl")
    started = False
    try:
        if run_user is not None:
            entry = pwd.getpwnam(run_user)
            os.chown(base, entry.pw_uid, entry.pw_gid)
        p = _run_as(run_user, [os.path.join(bin_dir, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
                               "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"], START_TIMEOUT_S)
        if p.returncode != 0:
            raise RuntimeError(f"initdb failed: {p.stderr.strip()}")
        with open(os.path.join(data, "postgresql.conf"), "a") as f:
            # No TCP at all; durability is worthless for a cluster that is deleted afterwards.
            f.write(f"listen_addresses = ''\nunix_socket_directories = '{base}'\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                    "max_connections = 50\nshared_buffers = 16MB\n")
        with _sigterm_unwinds():
            started = True  # from here on a half-started server is stopped too
            p = _run_as(run_user, [pg_ctl, "-D", data, "-l", log, "-w", "-t", str(START_TIMEOUT_S), "start"],
                        START_TIMEOUT_S + 10)
            if p.returncode != 0:
                with contextlib.suppress(OSError):
                    p.stderr += open(log).read()[-2000:]
                raise RuntimeError(f"pg_ctl start failed: {p.stderr.strip()}")
            yield PgServer(socket_dir=base, user="postgres")
    finally:
        if started:
            _stop(run_user, pg_ctl, data)
        shutil.rmtree(base, ignore_errors=True)


def _stop(run_user: Optional[str], pg_ctl: str, data: str) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        p = _run_as(run_user, [pg_ctl, "-D", data, "-m", "immediate", "-w", "-t", "20", "stop"], 30)
        if p.returncode == 0:
            return
    # pg_ctl could not stop it (or it never finished starting): end the postmaster by its pid.
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open(os.path.join(data, "postmaster.pid")) as f:
            pid = int(f.readline())
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    require()
    with server() as srv:
        yield srv


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    return pg_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request: pytest.FixtureRequest, tmp_path: "os.PathLike[str]") -> str:
    """A target for a new, empty results store: once a SQLite file, once a PostgreSQL database."""
    if request.param == "sqlite":
        return os.path.join(str(tmp_path), "store", "bench.sqlite")
    return request.getfixturevalue("pg_server").new_database()
