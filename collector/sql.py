"""`spanhouse sql` support: read-only queries routed through the collector that holds the
embedded ClickHouse path.

Only one process at a time can open an embedded (chdb) path, so a running collector answers
queries for it on a unix socket beside the data directory; without a running collector the
CLI opens the path itself."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import http.client
import io
import logging
import os
import socket
import stat
import struct
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import orjson
from aiohttp import web

logger = logging.getLogger(__name__)

# Unix socket paths are limited to 108 bytes on Linux; longer ones move to a private directory.
MAX_SOCKET_PATH_BYTES: Final = 100
SOCKET_MODE: Final = 0o600
PRIVATE_DIR_MODE: Final = 0o700
ROOT_UID: Final = 0
# Long enough for a heavy query; the collector answers each on its own connection.
QUERY_TIMEOUT_S: Final = 300.0
_PEER_CREDENTIALS: Final = struct.Struct("3i")  # struct ucred: pid, uid, gid

QueryResult = tuple[list[str], list[Sequence[Any]]]
# A storage client's read-only query (collector.core.storage.StorageClient.query).
RunQuery = Callable[[str], tuple[list[str], Sequence[Sequence[Any]]]]


class QueryError(Exception):
    pass


class SocketSecurityError(QueryError):
    """The socket, its directory or the process at the other end is not this user's."""


def socket_path_for(data_path: Path) -> Path:
    """Beside the data directory, or, for a long path, in this user's private directory
    (never a predictable name in a directory where other users can create files)."""
    candidate = data_path.with_name(data_path.name + ".sql.sock")
    if len(os.fsencode(candidate)) <= MAX_SOCKET_PATH_BYTES:
        return candidate
    digest = hashlib.sha256(os.fsencode(data_path.resolve())).hexdigest()[:16]
    return private_socket_dir() / f"{digest}.sql.sock"


def private_socket_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"spanhouse-{os.getuid()}"


def check_private_dir(directory: Path, create: bool) -> bool:
    """True once `directory` is a directory (not a link) of this user with mode 0700; False if it
    does not exist and `create` is off; SocketSecurityError if another user could write there."""
    if create:
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=PRIVATE_DIR_MODE)
    try:
        info = directory.lstat()
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise SocketSecurityError(
            f"{directory} is not a private directory of uid {os.getuid()} (owner uid {info.st_uid}, "
            f"mode {stat.filemode(info.st_mode)}): remove it, or give the data directory a shorter path")
    return True


def peer_uid(connection: socket.socket) -> int:
    """The uid of the process at the other end of a unix socket (SO_PEERCRED)."""
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEER_CREDENTIALS.size)
    return int(_PEER_CREDENTIALS.unpack(credentials)[1])


def trusted_uid(uid: int) -> bool:
    return uid in (os.getuid(), ROOT_UID)


class QueryServer:
    """Answers `POST /query {"query": ...}` on a unix socket, running each query in a thread,
    to processes of this user or root only."""

    def __init__(self, socket_path: Path, run_query: RunQuery) -> None:
        self._path = socket_path
        self._run_query = run_query
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        if self._path.parent == private_socket_dir():
            check_private_dir(self._path.parent, create=True)
        app = web.Application()
        app.router.add_post("/query", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        self._path.unlink(missing_ok=True)  # left over from a process that was killed
        await web.UnixSite(runner, str(self._path)).start()
        os.chmod(self._path, SOCKET_MODE)
        self._runner = runner

    async def _handle(self, request: web.Request) -> web.Response:
        connection = request.transport.get_extra_info("socket") if request.transport else None
        uid = peer_uid(connection) if connection is not None else None
        if uid is None or not trusted_uid(uid):
            logger.warning("spanhouse sql: refused a query from uid %s on %s", uid, self._path)
            return web.json_response({"error": f"refused: uid {uid} may not query this collector "
                                               f"(it runs as uid {os.getuid()})"}, status=403)
        try:
            query = str((await request.json())["query"])
            columns, rows = await asyncio.to_thread(self._run_query, query)
        except Exception as error:
            return web.json_response({"error": str(error)}, status=400)
        body = orjson.dumps({"columns": columns, "rows": rows}, default=str,
                            option=orjson.OPT_PASSTHROUGH_DATETIME)
        return web.Response(body=body, content_type="application/json")

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._path.unlink(missing_ok=True)


class _UnixConnection(http.client.HTTPConnection):
    """One HTTP request on a unix socket whose listener must be this user's or root's."""

    def __init__(self, socket_path: Path, timeout_s: float) -> None:
        super().__init__("collector", timeout=timeout_s)
        self._socket_path = socket_path

    def connect(self) -> None:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.settimeout(self.timeout)
            connection.connect(str(self._socket_path))
            uid = peer_uid(connection)
            if not trusted_uid(uid):
                raise SocketSecurityError(
                    f"the process listening on {self._socket_path} runs as uid {uid}, not as this user "
                    f"(uid {os.getuid()}) or root: its answers are not trusted")
        except BaseException:
            connection.close()
            raise
        self.sock = connection


def query_running_collector(socket_path: Path, query: str,
                            timeout_s: float = QUERY_TIMEOUT_S) -> QueryResult | None:
    """The result from the collector listening on `socket_path`, or None if none listens."""
    if socket_path.parent == private_socket_dir() and not check_private_dir(socket_path.parent, create=False):
        return None
    if not socket_path.exists():
        return None
    connection = _UnixConnection(socket_path, timeout_s)
    try:
        connection.request("POST", "/query", body=orjson.dumps({"query": query}),
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        status, body = response.status, response.read()
    except (ConnectionRefusedError, FileNotFoundError):  # a socket left by a killed collector
        return None
    finally:
        connection.close()
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise QueryError(f"the collector answered {status} without a result") from None
    if status != 200 or "error" in payload:
        raise QueryError(payload.get("error", f"the collector answered {status}"))
    return payload["columns"], payload["rows"]


def format_result(columns: list[str], rows: list[Sequence[Any]], output: str) -> str:
    if output == "json":
        return orjson.dumps([dict(zip(columns, row, strict=True)) for row in rows], default=str,
                            option=orjson.OPT_INDENT_2).decode() + "\n"
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_cell(value) for value in row] for row in rows])
        return buffer.getvalue()
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(name)] + [len(row[index]) for row in cells]) for index, name in enumerate(columns)]
    lines = [" | ".join(name.ljust(width) for name, width in zip(columns, widths, strict=True)),
             "-+-".join("-" * width for width in widths)]
    lines += [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in cells]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        return orjson.dumps(value, default=str).decode()
    return str(value)
