"""A real PostgreSQL server for the tests: ``initdb`` and ``pg_ctl`` in a temporary folder,
listening on a free loopback port, stopped at the end of the session.

The binaries come from Debian's ``postgresql`` package (``/usr/lib/postgresql/<ver>/bin``), or
from ``ANQUAN_TEST_PG_BIN``; ``make records-deps`` installs them. PostgreSQL refuses to run as
root, so under root the server runs as the ``postgres`` user the package creates. Set
``ANQUAN_TEST_PG_URL`` (a superuser URL) to use a server you already run instead.

Each test gets its own database (:meth:`PostgresServer.create_database`), so the migrations run
from nothing every time, as they do on a new site.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

INSTALL_HINT = "apt-get install -y postgresql (or: make records-deps)"
SUPERUSER = "anquan"


def find_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's ``bin`` folder that has ``initdb`` and ``pg_ctl``."""
    explicit = os.environ.get("ANQUAN_TEST_PG_BIN")
    candidates = [Path(explicit)] if explicit else []
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)] or [0],
        reverse=True,
    )
    candidates += found
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One throwaway cluster: trust authentication on 127.0.0.1 only, durability off for speed."""

    def __init__(self, url: str, stop: Callable[[], None] | None = None) -> None:
        self.url = url
        self._stop = stop
        self._n = 0

    @classmethod
    def start(cls, bin_dir: Path) -> PostgresServer:
        as_user: list[str] = []
        owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    "running as root and there is no 'postgres' user to run the server as; "
                    f"{INSTALL_HINT} creates it"
                ) from None
            as_user = ["runuser", "-u", "postgres", "--"]
        base = Path(tempfile.mkdtemp(prefix="anquan-pg-"))
        if owner is not None:
            os.chown(base, owner.pw_uid, owner.pw_gid)
        data, log = base / "data", base / "server.log"

        def run(*argv: str | Path, timeout: float = 120) -> None:
            done = subprocess.run(
                [*as_user, *map(str, argv)],
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=base,
            )
            if done.returncode != 0:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(
                    f"{Path(argv[0]).name} failed ({done.returncode}): "
                    f"{done.stderr.strip() or done.stdout.strip()}\n{tail}"
                )

        run(
            bin_dir / "initdb",
            "-D",
            data,
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        port = free_port()
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={base} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=40"
        )
        run(bin_dir / "pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start")
        stopped = False

        def stop() -> None:
            nonlocal stopped
            if stopped:
                return
            stopped = True
            # immediate: a throwaway cluster needs no shutdown checkpoint (it took ~30 s here)
            subprocess.run(
                [
                    *as_user,
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                capture_output=True,
                timeout=60,
                cwd=base,
            )
            shutil.rmtree(base, ignore_errors=True)

        atexit.register(stop)  # a session that dies early leaves no server behind
        return cls(f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres", stop)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()

    def create_database(self, prefix: str = "records") -> str:
        """A new empty database; returns its URL."""
        import psycopg

        self._n += 1
        name = f"{prefix}_{os.getpid()}_{self._n}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path=f"/{name}"))


def start_or_reason() -> tuple[PostgresServer | None, str]:
    """A running server, or why not (the reason a PostgreSQL test is skipped with)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return None, "psycopg is not installed: pip install -e '.[postgres]'"
    url = os.environ.get("ANQUAN_TEST_PG_URL")
    if url:
        return PostgresServer(url), ""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        return None, f"PostgreSQL server binaries not found: {INSTALL_HINT}"
    try:
        return PostgresServer.start(bin_dir), ""
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return None, f"could not start PostgreSQL from {bin_dir}: {exc}"
