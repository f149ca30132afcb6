"""Parse files in a child process, under a time limit and a memory ceiling.

A hostile or broken file can make a parser loop for minutes (a PDF whose pages all draw one
10 MB content stream) or fill memory (a record set that multiplies when padded). In-process
neither can be stopped: ``signal.alarm`` only works on the main thread, and the web service
ingests uploads on a background thread; Python cannot kill a thread, nor cap one thread's
memory. So files are parsed by a child process that:

- is started with ``fork``+``exec`` (a fresh interpreter, like multiprocessing's ``spawn``):
  forking the parent as it is would copy its threads' locks and OpenMP state mid-use;
- imports the parsers once, then caps its own address space (``RLIMIT_AS``) at its start-up
  size plus ``max_memory_mb``, so an allocation past the cap raises ``MemoryError`` in the
  child instead of swapping or waking the OOM killer;
- stays up between files (one start per run, not per file) and answers one file at a time;
- is killed and replaced when a file runs past ``timeout_s``, and replaced after a
  ``MemoryError`` (its heap may be fragmented) or a crash;
- exits by itself when its parent goes away (even mid-parse) or it has been idle for
  ``idle_exit_s``.

Each failure is an :class:`~ingest.errors.IngestError` (``parse_timeout``, ``parse_memory``,
``parser_crashed``), so the pipeline reports the file and goes on; errors raised by the loader
in the child come back as the same exception with the same message.
"""

from __future__ import annotations

import atexit
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path

from ingest.errors import ParseMemoryExceeded, ParserCrashed, ParseTimeout
from ingest.loaders import DEFAULT_MAX_BYTES, load
from ingest.models import LoadedDocument

__all__ = ["ParseSandbox", "load_isolated", "shared_sandbox"]

#: seconds a fresh child may take to import the parsers and say it is ready
START_TIMEOUT_S = 60.0
_MB = 1024 * 1024
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class ParseSandbox:
    """One persistent parsing child; :meth:`load` is :func:`ingest.loaders.load` under limits.

    Thread-safe: callers take turns (a pool of one), and a wait for the turn does not count
    towards a file's time limit.
    """

    def __init__(
        self,
        timeout_s: float = 60.0,
        max_memory_mb: int = 2048,
        *,
        idle_exit_s: float = 120.0,
    ) -> None:
        self.timeout_s = float(timeout_s)
        self.max_memory_mb = int(max_memory_mb)
        self.idle_exit_s = float(idle_exit_s)
        #: children started so far (a replaced child counts again)
        self.starts = 0
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None

    @property
    def pid(self) -> int | None:
        """The running child's process id, or None when none is running."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def load(
        self,
        path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        id_column: str | None = None,
        text_column: str | None = None,
    ) -> LoadedDocument:
        """Load one file in the child; raises what ``load`` raises, or a limit error."""
        request = {
            "path": str(path),
            "max_bytes": max_bytes,
            "id_column": id_column,
            "text_column": text_column,
        }
        with self._lock:
            for attempt in (1, 2):
                conn = self._ensure_child()
                try:
                    conn.send(request)
                except OSError:  # the child left between requests (idle exit, killed)
                    self._discard()
                    if attempt == 2:
                        raise
                    continue
                if not conn.poll(self.timeout_s):
                    self._discard()
                    raise ParseTimeout(
                        f"{path} took longer than {self.timeout_s:g} s to parse and was stopped: "
                        "it may be damaged or built to hang parsers; re-export it (a PDF: qpdf "
                        "in.pdf out.pdf), split it, or raise ANQUAN_PARSE_TIMEOUT_S"
                    )
                try:
                    status, payload = pickle.loads(conn.recv_bytes())
                except (EOFError, OSError):
                    code = self._discard()
                    if code == 0 and attempt == 1:
                        continue  # it had just timed out idle: ask a fresh one
                    raise self._crashed(path, code) from None
                break
            if status == "ok":
                return payload
            if status == "memory":
                self._discard()
                raise ParseMemoryExceeded(
                    f"{path} needed more than {self.max_memory_mb} MB of memory to parse and "
                    "was stopped: it may be a decompression bomb or a damaged file; re-export "
                    "or split it, or raise ANQUAN_PARSE_MAX_MEMORY_MB"
                )
            raise payload

    def close(self) -> None:
        """Stop the child (a later :meth:`load` starts a new one)."""
        with self._lock:
            self._discard()

    def _crashed(self, path: Path, code: int | None) -> ParserCrashed:
        if code is not None and code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exit status {code}"
        hint = (
            "if it was the out-of-memory killer, lower ANQUAN_PARSE_MAX_MEMORY_MB"
            if code == -signal.SIGKILL
            else "the file is probably damaged"
        )
        return ParserCrashed(
            f"{path} crashed the parser ({how}); {hint}: re-export or re-save it and "
            "ingest it again"
        )

    def _ensure_child(self) -> Connection:
        if self._proc is not None and self._proc.poll() is not None:
            self._discard()  # it left while idle
        if self._conn is not None:
            return self._conn
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p
        )
        args = [
            sys.executable,
            "-m",
            "ingest.loaders.sandbox",
            str(theirs.fileno()),
            str(self.max_memory_mb),
            str(self.idle_exit_s),
        ]
        try:
            proc = subprocess.Popen(
                args,
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=env,
                close_fds=True,
            )
        finally:
            theirs.close()
        conn = Connection(ours.detach())
        self._proc, self._conn = proc, conn
        self.starts += 1
        if not conn.poll(START_TIMEOUT_S):
            self._discard()
            raise RuntimeError(
                f"the parsing process did not start within {START_TIMEOUT_S:g} s: "
                "check that the machine is not overloaded (or set ANQUAN_PARSE_ISOLATION=false)"
            )
        try:
            conn.recv()  # "ready"
        except (EOFError, OSError):
            code = self._discard()
            raise RuntimeError(
                f"the parsing process exited while starting (status {code}); its error is "
                "on stderr (or set ANQUAN_PARSE_ISOLATION=false)"
            ) from None
        return conn

    def _discard(self) -> int | None:
        """Kill and reap the child (if any); its exit status."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            conn.close()
        if proc is None:
            return None
        if proc.poll() is None:
            proc.kill()
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # stuck in the kernel; leave it to init
            return None


_shared: dict[tuple[float, int], ParseSandbox] = {}
_shared_lock = threading.Lock()


def shared_sandbox(timeout_s: float, max_memory_mb: int) -> ParseSandbox:
    """The process-wide sandbox for these limits, so a run (or a server) reuses one child."""
    key = (float(timeout_s), int(max_memory_mb))
    with _shared_lock:
        box = _shared.get(key)
        if box is None:
            box = _shared[key] = ParseSandbox(timeout_s, max_memory_mb)
        return box


def load_isolated(
    path: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout_s: float = 60.0,
    max_memory_mb: int = 2048,
    id_column: str | None = None,
    text_column: str | None = None,
) -> LoadedDocument:
    """:func:`ingest.loaders.load` in the shared sandbox for these limits."""
    return shared_sandbox(timeout_s, max_memory_mb).load(
        path, max_bytes=max_bytes, id_column=id_column, text_column=text_column
    )


@atexit.register
def _close_shared() -> None:
    """Kill the shared children at exit without waiting for a turn: a background thread may
    be mid-parse (the child would leave by itself within a second anyway)."""
    for box in list(_shared.values()):
        proc = box._proc
        if proc is not None and proc.poll() is None:
            proc.kill()


# -- the child ------------------------------------------------------------------------------


def _address_space() -> int:
    """This process's virtual memory size in bytes (what ``RLIMIT_AS`` counts)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _cap_memory(max_memory_mb: int) -> None:
    try:
        import resource

        ceiling = _address_space() + max_memory_mb * _MB
    except (ImportError, OSError, ValueError):  # not Linux: no cap, the time limit still holds
        return
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard != resource.RLIM_INFINITY:
        ceiling = min(ceiling, hard)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))


def _serve(fd: int, max_memory_mb: int, idle_exit_s: float) -> int:
    """The child's loop: one request, one reply, until the parent leaves or it idles out."""
    import docx  # noqa: F401  (imported before the cap, and not on the first file's clock)
    import openpyxl  # noqa: F401

    conn = Connection(fd)
    watching = threading.Event()
    threading.Thread(target=_watch_parent, args=(os.getppid(), watching), daemon=True).start()
    watching.wait(10)  # its stack and first allocations belong to the start-up size
    _cap_memory(max_memory_mb)
    conn.send("ready")
    idle_since = time.monotonic()
    while True:
        if not conn.poll(1.0):
            if time.monotonic() - idle_since > idle_exit_s:
                return 0
            continue
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return 0  # the parent closed its end
        reply = _parse(request)
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            reply, data = ("memory", None), pickle.dumps(("memory", None))
        except Exception as exc:  # an exception that does not pickle
            failure = RuntimeError(f"{type(exc).__name__} while replying: {exc}")
            reply, data = ("error", failure), pickle.dumps(("error", failure))
        try:
            conn.send_bytes(data)
        except OSError:
            return 0
        del data
        if reply[0] == "memory":
            return 3  # start afresh: the heap may be fragmented
        idle_since = time.monotonic()


def _watch_parent(parent: int, watching: threading.Event) -> None:
    """Exit as soon as the parent is gone (``kill -9`` of an ingest), even mid-parse: an
    orphan would otherwise finish a slow file for nobody. (``PR_SET_PDEATHSIG`` would fire
    when the parent *thread* that started the child ends, which in a server is any time.)"""
    while True:
        if os.getppid() != parent:
            os._exit(0)
        watching.set()
        time.sleep(0.5)


def _parse(request: dict) -> tuple[str, object]:
    try:
        return "ok", load(
            Path(request["path"]),
            max_bytes=request["max_bytes"],
            id_column=request["id_column"],
            text_column=request["text_column"],
        )
    except MemoryError:
        return "memory", None
    except Exception as exc:
        from ingest.errors import IngestError

        if _caused_by_memory(exc):  # a parser that wrapped its MemoryError
            return "memory", None
        if not isinstance(exc, IngestError):  # a loader bug: keep where it happened
            exc.add_note("in the parsing process:\n" + traceback.format_exc())
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        return "error", exc


def _caused_by_memory(exc: BaseException) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, MemoryError):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


if __name__ == "__main__":
    sys.exit(_serve(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
