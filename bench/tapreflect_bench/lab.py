"""The lab: a private network namespace, the CPUs, and the processes in it.

Every measuring subcommand runs inside one `Lab` (a context manager).  It
owns everything it starts: the namespaces it adds, the reflector, tapgen and
any other process; on every way out (a return, an error, SIGINT or SIGTERM
turned into `Interrupted` by `install_signal_handlers`) it ends them by PID
and deletes the namespaces, in that order, because a process started with
`ip netns exec` keeps its namespace alive after `ip netns del`.

Readiness is data, never prose or a sleep: tapreflect and tapgen are started
with `--ready-fd N` on the write end of a pipe and write one JSON "start"
record there when they are ready; EOF before it means the tool died first.
"""
from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .model import EXIT_BAD_INPUT, EXIT_MEASUREMENT, BenchError

HOST_ADDR = "198.18.0.1/24"  # the device's address in the namespace (the benchmarking range)
PEER = "198.18.0.2"  # what tapgen sends to: the reflector answers for the whole subnet
READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


class Interrupted(BaseException):
    """SIGINT or SIGTERM: unwinds like KeyboardInterrupt, so every finally runs."""


@contextlib.contextmanager
def signals_held():
    """SIGINT and SIGTERM wait (blocked, not lost) while the block runs: for cleanup and for
    writing a run to the store, which a second Ctrl-C must not cut short."""
    held = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def install_signal_handlers() -> None:
    """The first SIGINT or SIGTERM unwinds the program (Interrupted); later ones only say that
    it is cleaning up, so that no second Ctrl-C cuts the cleanup or the store's write short."""
    def again(_signum, _frame):
        print("tapreflect-bench: stopping: ending processes, deleting namespaces, keeping what was "
              "measured", file=sys.stderr)

    def first(signum, _frame):
        signal.signal(signal.SIGINT, again)
        signal.signal(signal.SIGTERM, again)
        raise Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, first)
    signal.signal(signal.SIGTERM, first)


@dataclass
class Tools:
    """Where the tools and the results go: a build tree, or an installation."""

    tapreflect: str
    tapgen: str
    results: Path  # default directory for results
    installed: bool
    build: Optional[Path] = None
    tree: Optional[Path] = None  # the source tree, when run from one

    @classmethod
    def locate(cls, build: Optional[str]) -> "Tools":
        tree = os.environ.get("TRF_BENCH_TREE")
        bindir = os.environ.get("TRF_BENCH_BINDIR")
        if tree and not bindir:
            b = Path(build) if build else Path(tree) / "build"
            t = cls(str((b / "tools/tapreflect").resolve()), str((b / "tools/tapgen").resolve()),
                    b, False, b, Path(tree))
            hint = f"build first (cmake -S . -B {b} -G Ninja && cmake --build {b})"
        else:
            d = Path(bindir or "/usr/bin")
            if build:  # an installed program may still be pointed at a build tree
                d = Path(build) / "tools"
            t = cls(str(d / "tapreflect"), str(d / "tapgen"), Path("."), True, None, None)
            hint = "is tapreflect installed? (apt-get install ./tapreflect_*.deb)"
        for exe in (t.tapreflect, t.tapgen):
            if not os.access(exe, os.X_OK):
                raise BenchError(f"{exe} is not an executable: {hint}", EXIT_BAD_INPUT)
        return t


def parse_cpulist(text: str) -> list[int]:
    """'0-2,5' -> [0, 1, 2, 5]."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


class Process:
    """A process the lab started, with its output in files under the lab's directory."""

    def __init__(self, lab: "Lab", name: str, argv: list[str], ready: bool = False,
                 ready_timeout: float = READY_TIMEOUT_S, defer_ready: bool = False):
        """With ready, it is given --ready-fd N and this returns once its start record is read;
        with defer_ready too, this returns at once and await_ready() reads it (so that several
        processes can be started before any is waited for)."""
        self.lab, self.name, self.argv = lab, name, argv
        self.out = lab.tmp / f"{name}.out"
        self.err = lab.tmp / f"{name}.err"
        self.start_record: Optional[dict] = None
        self.ready_timeout = ready_timeout
        self._ready_fd: Optional[int] = None
        rfd = wfd = None
        if ready:
            rfd, wfd = os.pipe()
            argv = argv + ["--ready-fd", str(wfd)]
        try:
            with open(self.out, "wb") as out, open(self.err, "wb") as err:
                self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                              pass_fds=(wfd,) if wfd is not None else (),
                                              start_new_session=True)
        except BaseException:
            for fd in (rfd, wfd):
                if fd is not None:
                    os.close(fd)
            raise
        lab.procs.append(self)
        if ready:
            os.close(wfd)
            self._ready_fd = rfd
            if not defer_ready:
                self.await_ready()

    def await_ready(self) -> Optional[dict]:
        """Read its start record (once; later calls return it again)."""
        fd, self._ready_fd = self._ready_fd, None
        if fd is None:
            return self.start_record
        try:
            self.start_record = self._read_ready(fd, self.ready_timeout)
        finally:
            os.close(fd)
        return self.start_record

    def _read_ready(self, fd: int, timeout: float) -> dict:
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise BenchError(f"{self.name} was not ready after {timeout:.0f} s: {self.stderr_tail()}",
                                 EXIT_MEASUREMENT)
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:  # EOF: it ended before it was ready
                rc = self.popen.wait(timeout=STOP_TIMEOUT_S)
                raise BenchError(f"{self.name} exited ({rc}) before it was ready: {self.stderr_tail()}",
                                 EXIT_BAD_INPUT if rc == 2 else EXIT_MEASUREMENT)
            buf += chunk
        try:
            rec = json.loads(buf.split(b"\n", 1)[0])
        except json.JSONDecodeError as e:
            raise BenchError(f"{self.name}: its start record is not JSON ({e})", EXIT_MEASUREMENT)
        if rec.get("type") != "start":
            raise BenchError(f"{self.name}: expected a start record, got {rec!r}", EXIT_MEASUREMENT)
        return rec

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stderr_tail(self, lines: int = 8) -> str:
        try:
            text = self.err.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no output)"
        return " / ".join(text[-lines:]) or "(no output)"

    def running(self) -> bool:
        return self.popen.poll() is None

    def wait_at_most(self, timeout: float) -> Optional[int]:
        """Its exit status if it ends within timeout seconds, else None (it goes on)."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def wait(self, timeout: Optional[float]) -> int:
        try:
            rc = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise BenchError(f"{self.name} still running after {timeout:.0f} s: ended it", EXIT_MEASUREMENT)
        self._forget()
        return rc

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """End it (SIGTERM, then SIGKILL after STOP_TIMEOUT_S); its exit status."""
        if self.running():
            try:
                self.signal(sig)
                return self.wait(STOP_TIMEOUT_S)
            except BenchError:
                return -signal.SIGKILL
        self._forget()
        return self.popen.returncode

    def signal(self, sig: int) -> None:
        """To its whole process group: it was started in a session of its own (so that a terminal's
        Ctrl-C reaches only this program, which then stops it in order)."""
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        if self.running():
            self.signal(signal.SIGKILL)
        try:
            self.popen.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
        self._forget()

    def _forget(self) -> None:
        if self._ready_fd is not None:  # started with defer_ready and never waited for
            os.close(self._ready_fd)
            self._ready_fd = None
        if self in self.lab.procs:
            self.lab.procs.remove(self)


class Reflector(Process):
    """tapreflect in the lab's namespace; stop() returns its JSON summary record."""

    def __init__(self, lab: "Lab", args: list[str], binary: str, stats: float, json_path: Path):
        self.json_path = json_path
        argv = lab.ns_argv([binary, *args, "--addr", HOST_ADDR, "--stats", f"{stats:g}", "--json", str(json_path)])
        super().__init__(lab, "tapreflect", argv, ready=True)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        rc = super().stop(sig)
        if self.lab.reflector is self:
            self.lab.reflector = None
        return rc

    def records(self) -> list[dict]:
        out = []
        try:
            text = self.json_path.read_text()
        except OSError:
            return out
        for line in text.splitlines():
            if line.strip():
                out.append(json.loads(line))
        return out

    def finish(self) -> dict:
        """Stop it and return its summary record; a failed exit or no summary is an error."""
        rc = self.stop()
        summaries = [r for r in self.records() if r.get("type") == "summary"]
        if rc != 0 or not summaries:
            raise BenchError(f"tapreflect exited {rc} without a summary: {self.stderr_tail()}", EXIT_MEASUREMENT)
        return summaries[-1]


class Tapgen(Process):
    """tapgen in the lab's namespace, sending to PEER from the generator's CPU (or from cpu)."""

    def __init__(self, lab: "Lab", name: str, args: list[str], cpu: Optional[int] = None,
                 defer_ready: bool = False):
        self.json_path = lab.tmp / f"{name}.json"
        self.json_path.unlink(missing_ok=True)
        self.args = args
        self.cpu = lab.cpu_g if cpu is None else cpu
        argv = lab.ns_argv([lab.tools.tapgen, "--dst", PEER, "--cpu", str(self.cpu), *args,
                            "--json", str(self.json_path)])
        super().__init__(lab, name, argv, ready=True, defer_ready=defer_ready)

    def finish(self, timeout: float) -> list[dict]:
        """Wait for it to end; its JSON records.  A failed exit is an error."""
        rc = self.wait(timeout)
        if rc != 0:
            raise BenchError(f"tapgen {' '.join(self.args)} exited {rc}: {self.stderr_tail()}", EXIT_MEASUREMENT)
        return [json.loads(line) for line in self.json_path.read_text().splitlines() if line.strip()]


@dataclass
class Lab:
    """One namespace with the device's peer side, two CPUs, and cleanup."""

    tools: Tools
    prog: str
    log: callable = print
    ns: str = ""
    tmp: Path = Path()
    cpu_r: int = 0
    cpu_g: int = 0
    procs: list = field(default_factory=list)
    namespaces: list = field(default_factory=list)
    reflector: Optional[Reflector] = None

    def __enter__(self) -> "Lab":
        if os.geteuid() != 0:
            raise BenchError(f"{self.prog}: run as root (network namespaces, TUN/TAP)", EXIT_BAD_INPUT)
        cpus = sorted(os.sched_getaffinity(0))
        self.cpu_r = cpus[0]
        self.cpu_g = cpus[1] if len(cpus) > 1 else cpus[0]
        if self.cpu_r == self.cpu_g:
            self.log(f"{self.prog}: warning: one CPU only: tapgen and the reflector share CPU "
                     f"{self.cpu_r} and compete for it")
        self.tmp = Path(tempfile.mkdtemp(prefix="trf-bench."))
        try:
            self.ns = self.add_netns(f"trf-bench-{os.getpid()}")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """End every process, then delete every namespace.  A second SIGINT or SIGTERM
        waits until this is done: cut short, it would leave them behind."""
        with signals_held():
            for p in list(reversed(self.procs)):
                try:
                    p.stop()
                except Exception as e:  # the others must still go
                    self.log(f"{self.prog}: could not stop {p.name} ({p.pid}): {e}")
            for ns in reversed(self.namespaces):
                subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL, check=False)
            self.namespaces.clear()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def add_netns(self, name: str) -> str:
        for argv in (["ip", "netns", "add", name], ["ip", "-n", name, "link", "set", "lo", "up"]):
            try:
                p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            except (OSError, subprocess.TimeoutExpired) as e:
                raise BenchError(f"{' '.join(argv)}: {e} (is iproute2 installed?)", EXIT_MEASUREMENT)
            if p.returncode != 0:
                raise BenchError(f"{' '.join(argv)} failed: {p.stderr.strip()}", EXIT_MEASUREMENT)
            if argv[2] == "add":
                self.namespaces.append(name)
        return name

    def ns_argv(self, argv: list[str], ns: Optional[str] = None) -> list[str]:
        return ["ip", "netns", "exec", ns or self.ns, *argv]

    def sh(self, argv: list[str], ns: Optional[str] = None, check: bool = True, timeout: float = 60) -> str:
        """A short command in the namespace; its stdout."""
        try:
            p = subprocess.run(self.ns_argv(argv, ns), capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{' '.join(argv)}: no answer after {timeout:.0f} s", EXIT_MEASUREMENT)
        if check and p.returncode != 0:
            raise BenchError(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr.strip()}", EXIT_MEASUREMENT)
        return p.stdout

    def start_reflector(self, args: list[str], *, binary: Optional[str] = None, stats: float = 0,
                        warm: bool = True) -> Reflector:
        """tapreflect with a host address and a JSON record file; returns once it is ready (its
        start record read) and, with warm, once one ping has crossed it (ARP and the first-frame
        paths are warm before any measurement)."""
        if self.reflector is not None:
            self.reflector.stop()
        path = self.tmp / "reflector.json"
        path.unlink(missing_ok=True)
        r = Reflector(self, args, binary or self.tools.tapreflect, stats, path)
        self.reflector = r
        if warm:
            self.sh(["ping", "-c", "1", "-W", "2", PEER.split("/")[0]])
        return r

    def start_tapgen(self, args: list[str], name: str = "tapgen") -> "Tapgen":
        """tapgen on the generator's CPU, in the background; returns once it is ready."""
        return Tapgen(self, name, args)

    def tapgen(self, args: list[str], *, timeout: float) -> list[dict]:
        """tapgen to completion on the generator's CPU; its JSON records."""
        return self.start_tapgen(args).finish(timeout)

    def start_tapgens(self, specs: list[tuple[list[str], int]]) -> list["Tapgen"]:
        """Several tapgens at once, tapgen0, tapgen1, ..., each (args, cpu): all are started before
        any is waited for, so that they send together (each starts sending once it is ready, a few
        milliseconds apart at most); returns once every one is ready.  One that fails to start is
        an error; the others were started by this lab and end with it, by PID."""
        gens = [Tapgen(self, f"tapgen{i}", args, cpu=cpu, defer_ready=True) for i, (args, cpu) in enumerate(specs)]
        for g in gens:
            g.await_ready()
        return gens

    def tapgens(self, specs: list[tuple[list[str], int]], *, timeout: float) -> list[list[dict]]:
        """Several tapgens to completion, in parallel (start_tapgens); each one's JSON records."""
        return [g.finish(timeout) for g in self.start_tapgens(specs)]

    def spawn(self, name: str, argv: list[str], ns: Optional[str] = None, ready: bool = False) -> Process:
        """A helper process in a namespace (a server, a background generator); with ready, it is given
        --ready-fd N and this returns once it has written its start record there."""
        return Process(self, name, self.ns_argv(argv, ns), ready=ready)

