"""The collector under test as a child process: started from a config, timed to its first
health check 200, measured through /proc (CPU seconds, peak RSS, CPU per thread), queried
through `spanhouse sql`, and stopped with SIGTERM."""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Final

HEALTH_POLL_S: Final = 0.01
SQL_TIMEOUT_S: Final = 120.0
_CLOCK_TICKS_PER_S: Final = os.sysconf("SC_CLK_TCK")
_TRAILING_DIGITS: Final = re.compile(r"[\d/:]+$")
# chdb renames the Python threads that run its queries "Unknown": in spanhouse those are the
# asyncio.to_thread workers of the clickhouse exporter (checked with py-spy dump --json).
_THREAD_LABELS: Final = {"Unknown": "exporter threads (queue reads, inserts)"}
WORKERS_LABEL: Final = "conversion worker processes (decode, to_columns, Native encoding)"


def spanhouse_command() -> list[str]:
    """The `spanhouse` entry point of this interpreter's environment."""
    script = Path(sys.executable).with_name("spanhouse")
    return [str(script)] if script.exists() else [sys.executable, "-m", "spanhouse.collector.cli"]


def _stat_cpu_s(stat_text: str) -> float:
    # Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    fields = stat_text.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS_PER_S


def child_pids(pid: int) -> list[int]:
    """The process's children now (the clickhouse exporter's conversion workers)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children.extend(int(child) for child in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return children


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process (every thread, ClickHouse's native ones too) and of its
    children (the conversion workers, which live as long as the collector)."""
    total = _stat_cpu_s(Path(f"/proc/{pid}/stat").read_text())
    for child in child_pids(pid):
        try:
            total += _stat_cpu_s(Path(f"/proc/{child}/stat").read_text())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def peak_rss_mb(pid: int) -> dict[str, float]:
    """Peak resident set (VmHWM) of the collector's process and of its children's, in MB. Their
    sum, reported as the collector's peak, is an upper bound: the peaks need not coincide."""
    children = 0.0
    for child in child_pids(pid):
        try:
            children += status_mb(child, "VmHWM")
        except (FileNotFoundError, ProcessLookupError):
            continue
    return {"collector process": status_mb(pid, "VmHWM"), "conversion workers": round(children, 1)}


def status_mb(pid: int, field: str) -> float:
    """A /proc/<pid>/status memory field in MB: VmHWM is the peak resident set, VmRSS the current one."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)  # the kernel writes kB
    raise KeyError(field)


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds per thread name. Python threads keep the process's name, so the main thread
    (the event loop) is told apart by its id; ClickHouse names its own pools."""
    totals: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            used = _stat_cpu_s((task / "stat").read_text())
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended while we looked
        # One entry per pool rather than per thread.
        name = "main thread (event loop)" if task.name == str(pid) else _TRAILING_DIGITS.sub("", name) or name
        name = _THREAD_LABELS.get(name, name)
        totals[name] = totals.get(name, 0.0) + used
    for child in child_pids(pid):
        try:
            used = _stat_cpu_s(Path(f"/proc/{child}/stat").read_text())
        except (FileNotFoundError, ProcessLookupError):
            continue
        totals[WORKERS_LABEL] = totals.get(WORKERS_LABEL, 0.0) + used
    return totals


class CollectorProcess:
    def __init__(self, config_path: Path, log_path: Path) -> None:
        self.config_path = config_path
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: io.BufferedWriter | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    def start(self, health_url: str, timeout_s: float = 60.0) -> float:
        """Starts `spanhouse run`; the seconds until the health check first answered 200."""
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        began = time.perf_counter()
        self._process = subprocess.Popen([*spanhouse_command(), "run", "--config", str(self.config_path)],
                                         stdout=self._log, stderr=subprocess.STDOUT)
        deadline = began + timeout_s
        while time.perf_counter() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the collector exited with {self._process.returncode} while starting:\n"
                                   f"{self.log_tail()}")
            try:
                with urllib.request.urlopen(health_url, timeout=1) as response:
                    if response.status == 200:
                        return time.perf_counter() - began
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass  # not listening yet, or 503 while starting
            time.sleep(HEALTH_POLL_S)
        raise TimeoutError(f"the collector was not healthy within {timeout_s:.0f}s:\n{self.log_tail()}")

    def sql(self, query: str) -> list[dict[str, str]]:
        """Rows of a read-only query, through `spanhouse sql` (which asks the running collector)."""
        done = subprocess.run([*spanhouse_command(), "sql", query, "--config", str(self.config_path),
                               "--format", "csv"], capture_output=True, text=True, timeout=SQL_TIMEOUT_S,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"spanhouse sql failed ({done.returncode}): {done.stderr.strip()}")
        return list(csv.DictReader(io.StringIO(done.stdout)))

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """SIGTERM and wait; the exit status, or None if it had to be killed."""
        process = self._process
        if process is None:
            return None
        code: int | None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = None
        if self._log is not None:
            self._log.close()
            self._log = None
        self._process = None
        return code

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""
