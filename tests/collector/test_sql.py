"""`spanhouse sql` through a running collector's unix socket: one reading statement per call,
refusals that say what is wrong and leave the channel clean, and a socket only this user's
processes (or root's) may use at either end."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import pytest

from spanhouse.collector.sql import (
    QueryError,
    QueryResult,
    QueryServer,
    SocketSecurityError,
    private_socket_dir,
    query_running_collector,
    socket_path_for,
)
from tests.conftest import Collector, StartCollector
from tests.read.collector_setup import READ_CONFIG, request, start_read_collector, store_known_traces

SECOND_NS: Final = 1_000_000_000
BASE_NS: Final = 1_705_312_800 * SECOND_NS
NOBODY_UID: Final = 65534
SERVICES: Final = ["billing", "lead-qualifier", "support-bot"]


async def ask(running: Collector, query: str) -> QueryResult | None:
    socket_path = socket_path_for(running.directory / "clickhouse")
    return await asyncio.to_thread(query_running_collector, socket_path, query)


async def refused(running: Collector, query: str) -> str:
    with pytest.raises(QueryError) as raised:
        await ask(running, query)
    # The channel is clean after every refusal: the next query answers its own rows only.
    assert await ask(running, "SELECT 42 AS x") == (["x"], [[42]])
    return str(raised.value)


async def services(running: Collector) -> list[str]:
    status, body = await request("GET", f"http://127.0.0.1:{running.ports['query']}/api/services?start=0")
    assert status == 200, body
    return [service["name"] for service in body["services"]]


async def test_one_reading_statement_per_call(start_collector: StartCollector, tmp_path: Path) -> None:
    running = await start_read_collector(start_collector)
    await store_known_traces(running, BASE_NS)
    spans = await ask(running, "SELECT count() AS spans FROM otel.otel_traces")
    feedback = await ask(running, "SELECT count() AS rows FROM otel.otel_trace_feedback")

    for query in ["SELECT 1; CREATE TABLE otel.forged (a Int8) ENGINE = Memory; SELECT 1",
                  "SELECT 1; DROP TABLE otel.otel_traces",
                  "SELECT 1;\nINSERT INTO otel.otel_trace_feedback (TraceId) VALUES ('forged')"]:
        assert (await refused(running, query)).startswith("only one statement per call"), query
        assert await services(running) == SERVICES  # the read API shares the engine handle

    for query in ["INSERT INTO otel.otel_trace_feedback (TraceId) VALUES ('forged')",
                  "DROP TABLE otel.otel_traces", "CREATE TABLE otel.forged (a Int8) ENGINE = Memory",
                  "SET readonly = 0", "SELECT 1 SETTINGS readonly = 0"]:
        message = await refused(running, query)
        assert message.startswith("writes are not allowed: spanhouse sql is read-only"), (query, message)
    # Functions that reach outside the database, table functions or not, in any spelling, even
    # inside EXPLAIN (whose plan folds constants: it would print the file).
    for query in ["SELECT * FROM file('/etc/hostname', 'LineAsString')", "SELECT file('/etc/hostname')",
                  "SELECT `file`('/etc/hostname')", 'EXPLAIN PLAN SELECT "file"(\'/etc/hostname\')',
                  "SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')",
                  "SELECT * FROM remote('127.0.0.1:9', system.one)", "SELECT * FROM Python('running')",
                  "SELECT * FROM view(SELECT * FROM s3('http://127.0.0.1:9/bucket/key.csv', 'CSV'))"]:
        message = await refused(running, query)
        assert message.startswith("spanhouse sql reads only the database: "), (query, message)
    assert await ask(running, "SELECT count() AS n FROM numbers(3)") == (["n"], [[3]])
    assert await ask(running, "SELECT format('{}-{}', 'a', 'b') AS s") == (["s"], [["a-b"]])

    outfile = tmp_path / "out.tsv"
    for query in [f"SELECT 1 INTO OUTFILE '{outfile}'", f"SELECT 'x' UNION ALL SELECT 'y' INTO OUTFILE '{outfile}'",
                  f"EXPLAIN SELECT 1 INTO OUTFILE '{outfile}'"]:
        assert "INTO OUTFILE writes a file" in await refused(running, query), query
    assert not outfile.exists()
    # A string that only mentions INTO OUTFILE is read as the string it is.
    assert await ask(running, "SELECT 'INTO OUTFILE' AS words") == (["words"], [["INTO OUTFILE"]])

    message = await refused(running, "SELEC 1")
    assert message.startswith("syntax error: failed at position 7"), message
    assert "write access" not in message
    assert await refused(running, "  ") == "no statement: the query is empty"
    assert "UNKNOWN_TABLE" in await refused(running, "SELECT * FROM otel.no_such_table")

    # Nothing ran: no table, no forged row, the spans all there; a trailing ';' and comments are fine.
    assert await ask(running, "SELECT count() AS spans FROM otel.otel_traces;") == spans
    assert await ask(running, "-- again\nSELECT count() AS rows FROM otel.otel_trace_feedback") == feedback
    assert await ask(running, "EXISTS TABLE otel.forged") == (["result"], [[0]])
    assert await services(running) == SERVICES


@pytest.fixture
def world_writable_dir() -> Iterator[Path]:
    """A directory other users can reach, for the processes of uid 65534 below."""
    directory = Path(tempfile.mkdtemp(prefix="spanhouse-test-"))
    directory.chmod(0o777)
    yield directory
    subprocess.run(["rm", "-rf", str(directory)], check=False)


def as_nobody(job: Callable[[], bytes]) -> tuple[int, int]:
    """Runs `job` in a forked child of uid 65534 (no exec: the test's interpreter may not be
    readable by that uid); its pid, and the read end of a pipe that gets what it returns."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only socket calls, then _exit
        code = 0
        try:
            os.close(read_end)
            os.setgid(NOBODY_UID)
            os.setuid(NOBODY_UID)
            os.write(write_end, job())
        except BaseException as error:
            os.write(write_end, f"failed: {error!r}".encode())
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def collect(pid: int, read_end: int) -> str:
    with os.fdopen(read_end, "rb") as output:
        text = output.read().decode()
    os.waitpid(pid, 0)
    return text


FORGED_BODY: Final = b'{"columns": ["x"], "rows": [[1]]}'


def forge(socket_path: Path, ready: int) -> Callable[[], bytes]:
    def job() -> bytes:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(socket_path))
        listener.listen(1)
        os.write(ready, b"x")
        connection, _ = listener.accept()
        connection.settimeout(10)
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                           + str(len(FORGED_BODY)).encode() + b"\r\n\r\n" + FORGED_BODY)
        connection.close()
        return b"answered"
    return job


def ask_raw(socket_path: Path) -> Callable[[], bytes]:
    def job() -> bytes:
        body = b'{"query": "SELECT 1"}'
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(10)
            connection.connect(str(socket_path))
            connection.sendall(b"POST /query HTTP/1.1\r\nHost: collector\r\nConnection: close\r\n"
                               b"Content-Type: application/json\r\nContent-Length: "
                               + str(len(body)).encode() + b"\r\n\r\n" + body)
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        return answer
    return job


@pytest.mark.skipif(os.getuid() != 0, reason="starts processes of another uid")
def test_client_refuses_a_listener_of_another_user(world_writable_dir: Path) -> None:
    socket_path = world_writable_dir / "forged.sql.sock"
    ready_read, ready_write = os.pipe()
    pid, output = as_nobody(forge(socket_path, ready_write))
    os.close(ready_write)
    try:
        assert os.read(ready_read, 1) == b"x"
        with pytest.raises(SocketSecurityError, match=f"runs as uid {NOBODY_UID}, not as this user"):
            query_running_collector(socket_path, "SELECT 1")
    finally:
        os.close(ready_read)
        os.kill(pid, signal.SIGKILL)
        collect(pid, output)


@pytest.mark.skipif(os.getuid() != 0, reason="starts processes of another uid")
async def test_server_refuses_a_client_of_another_user(world_writable_dir: Path) -> None:
    socket_path = world_writable_dir / "collector.sql.sock"
    server = QueryServer(socket_path, lambda query: (["x"], [[1]]))
    await server.start()
    try:
        socket_path.chmod(0o666)  # past the file mode, the peer's uid still decides
        pid, output = as_nobody(ask_raw(socket_path))
        answer = await asyncio.to_thread(collect, pid, output)
        assert answer.startswith("HTTP/1.1 403"), answer
        assert answer.endswith(f'{{"error": "refused: uid {NOBODY_UID} may not query this collector '
                               f'(it runs as uid {os.getuid()})"}}'), answer
        assert await asyncio.to_thread(query_running_collector, socket_path, "SELECT 1") == (["x"], [[1]])
    finally:
        await server.stop()


def long_data_path(base: Path) -> Path:
    path = base / ("d" * 120) / "clickhouse"
    path.parent.mkdir(parents=True)
    return path


async def test_long_path_socket_goes_to_a_private_directory(tmp_path: Path) -> None:
    data_path = long_data_path(tmp_path)
    socket_path = socket_path_for(data_path)
    assert socket_path.parent == private_socket_dir() == Path(tempfile.gettempdir()) / f"spanhouse-{os.getuid()}"
    server = QueryServer(socket_path, lambda query: (["q"], [[query]]))
    await server.start()
    try:
        info = socket_path.parent.lstat()
        assert (info.st_uid, info.st_mode & 0o777) == (os.getuid(), 0o700)
        assert await asyncio.to_thread(query_running_collector, socket_path, "SELECT 2") == (["q"], [["SELECT 2"]])
    finally:
        await server.stop()


@pytest.mark.skipif(os.getuid() != 0, reason="gives a directory to another uid")
async def test_private_directory_taken_by_another_user_is_refused(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Another user created the directory first (here under a temp dir of this test's own).
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    socket_path = socket_path_for(long_data_path(tmp_path))
    socket_path.parent.mkdir(mode=0o700)
    os.chown(socket_path.parent, NOBODY_UID, NOBODY_UID)
    with pytest.raises(SocketSecurityError, match="is not a private directory of uid 0 \\(owner uid 65534"):
        await QueryServer(socket_path, lambda query: ([], [])).start()
    with pytest.raises(SocketSecurityError, match="is not a private directory"):
        query_running_collector(socket_path, "SELECT 1")
    os.chown(socket_path.parent, 0, 0)
    socket_path.parent.chmod(0o777)
    with pytest.raises(SocketSecurityError, match="mode drwxrwxrwx"):
        query_running_collector(socket_path, "SELECT 1")


@pytest.mark.skipif(os.getuid() != 0, reason="gives a directory to another uid")
async def test_collector_runs_on_when_the_private_directory_is_taken(
        start_collector: StartCollector, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    temp_dir = tmp_path / "tmp"
    temp_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_dir))
    taken = private_socket_dir()
    taken.mkdir(mode=0o700)
    os.chown(taken, NOBODY_UID, NOBODY_UID)
    long_path = "d" * 120
    (tmp_path / long_path).mkdir()
    running = await start_collector(READ_CONFIG.replace("chdb://{dir}/clickhouse", f"chdb://{{dir}}/{long_path}/clickhouse"))
    await store_known_traces(running, BASE_NS)
    assert await services(running) == SERVICES  # the spans flow and read back
    socket_path = socket_path_for(tmp_path / long_path / "clickhouse")
    assert socket_path.parent == taken and not socket_path.exists()
    with pytest.raises(SocketSecurityError, match="is not a private directory"):
        await asyncio.to_thread(query_running_collector, socket_path, "SELECT 1")
