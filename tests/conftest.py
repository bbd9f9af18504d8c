"""Suite-wide fixtures: a throwaway PostgreSQL server for the distributed-search tests.

``postgres_server`` starts a private PostgreSQL server once per test session: ``initdb`` into a
fresh directory under the system temporary directory, ``pg_ctl start`` listening on 127.0.0.1
only, at a free port, with its Unix socket in that same directory (so it never touches a system
cluster or ``/var/run/postgresql``); user ``archlab``, trust authentication, no password. At the
end of the session it stops the server (``-m immediate``) and deletes the directory.
``postgres_url`` gives each test a SQLAlchemy URL of a database of its own, created empty for
it (``CREATE DATABASE`` takes well under a second), so a test sees no other test's studies and
its workers meet an empty schema, as on a first run. Durability is switched off (``fsync=off``,
``initdb --no-sync``): the data is thrown away anyway.

PostgreSQL refuses to run as root, and CI runs as root: then ``initdb``, ``pg_ctl`` and the
server run as an unprivileged user (``postgres`` when that account exists, as the Debian package
creates it, else ``nobody``; ``ARCHLAB_PG_USER`` overrides), who owns the temporary directory.

Binaries: ``initdb`` and ``pg_ctl`` are looked up on ``PATH``, then in Debian's
``/usr/lib/postgresql/<version>/bin`` (newest version first); ``ARCHLAB_PG_BIN`` names the
directory explicitly. Where no server can be had (no binaries, or no ``psycopg2`` driver):
under CI (environment variable ``CI`` set to anything but ``""``, ``0`` or ``false``) the
tests that use it FAIL, saying how to install it, because CI must exercise the real database
(``.ci/run`` installs the Debian package ``postgresql`` when it is missing); on a developer's
machine they are SKIPPED with that same message, so the rest of the suite stays usable there.
"""
from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

INSTALL_HINT = ("install the PostgreSQL server (Debian/Ubuntu: `apt-get install postgresql`, which "
                "`.ci/run` does when it is missing) and the driver (`pip install -e '.[test]'`, "
                "which brings psycopg2-binary)")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str):
    message = f"PostgreSQL tests need a local server: {reason}; {INSTALL_HINT}"
    if _in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def find_postgres_bin() -> Path | None:
    """The directory holding both ``initdb`` and ``pg_ctl``, or None (see the module docstring)."""
    candidates = []
    if os.environ.get("ARCHLAB_PG_BIN"):
        candidates.append(os.environ["ARCHLAB_PG_BIN"])
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(os.path.dirname(on_path))
        candidates.append(os.path.dirname(os.path.realpath(on_path)))

    def version(path: str) -> tuple:
        return tuple(int(x) for x in re.findall(r"\d+", path.split("/")[-2]))

    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    for c in candidates:
        if os.access(os.path.join(c, "initdb"), os.X_OK) and os.access(os.path.join(c, "pg_ctl"), os.X_OK):
            return Path(c)
    return None


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged account to run PostgreSQL as when we are root; None when we are not."""
    if os.geteuid() != 0:
        return None
    names = [os.environ["ARCHLAB_PG_USER"]] if os.environ.get("ARCHLAB_PG_USER") else ["postgres", "nobody"]
    for name in names:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError(f"running as root and none of the accounts {names} exists to run PostgreSQL as")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One throwaway server: ``start()`` then ``url``; ``stop()`` removes everything."""

    def __init__(self, bindir: Path, user: pwd.struct_passwd | None = None):
        self.bindir, self.user = bindir, user
        self.base = Path(tempfile.mkdtemp(prefix="archlab-pg-"))
        self.data, self.log = self.base / "data", self.base / "server.log"
        self.port: int | None = None
        self.databases: list[str] = []
        if user is not None:
            os.chown(self.base, user.pw_uid, user.pw_gid)

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        kw = {}
        if self.user is not None:
            kw = dict(user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[])
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(self.base)}
        return subprocess.run([str(self.bindir / args[0]), *args[1:]], cwd=self.base, env=env, timeout=timeout,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, **kw)

    def _check(self, proc: subprocess.CompletedProcess, what: str) -> None:
        if proc.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"PostgreSQL {what} failed (exit {proc.returncode}) in {self.base}:\n"
                               f"{proc.stdout}{proc.stderr}\n{log}")

    def start(self, attempts: int = 3) -> str:
        self._check(self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "archlab", "-E", "UTF8",
                              "--no-locale", "--no-sync"), "initdb")
        for attempt in range(attempts):  # a free port can be taken between the probe and the bind
            self.port = _free_port()
            options = (f"-k {self.base} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off")
            proc = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60",
                             "start")
            if proc.returncode == 0:
                break
            if attempt == attempts - 1:
                self._check(proc, "pg_ctl start")
        return self.url("postgres")

    def create_database(self, name: str) -> str:
        """Create the empty database ``name`` (letters, digits, ``_``) and return its URL."""
        import psycopg2

        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"database name {name!r}: expected lower-case letters, digits and _")

        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="archlab", dbname="postgres")
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        self.databases.append(name)
        return self.url(name)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg2://archlab@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop", timeout=60)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    """The session's throwaway :class:`PostgresServer` (see the module docstring for when it skips)."""
    bindir = find_postgres_bin()
    if bindir is None:
        _unavailable("no `initdb` and `pg_ctl` on PATH or under /usr/lib/postgresql/*/bin")
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        _unavailable("the Python driver psycopg2 is not installed")
    server = PostgresServer(bindir, _server_user())
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server, request):
    """SQLAlchemy URL of an empty PostgreSQL database made for this test alone."""
    name = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:40]
    return postgres_server.create_database(f"t{len(postgres_server.databases)}_{name}")
