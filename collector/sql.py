"""`spanhouse sql` support: read-only queries routed through the collector that holds the
embedded ClickHouse path.

Only one process at a time can open an embedded (chdb) path, so a running collector answers
queries for it on a unix socket beside the data directory; without a running collector the
CLI opens the path itself."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import orjson
from aiohttp import ClientSession, UnixConnector, web

# Unix socket paths are limited to 108 bytes on Linux; longer ones move to the temp dir.
MAX_SOCKET_PATH_BYTES: Final = 100

QueryResult = tuple[list[str], list[Sequence[Any]]]
RunQuery = Callable[[str], QueryResult]


def socket_path_for(data_path: Path) -> Path:
    candidate = data_path.with_name(data_path.name + ".sql.sock")
    if len(os.fsencode(candidate)) <= MAX_SOCKET_PATH_BYTES:
        return candidate
    digest = hashlib.sha256(os.fsencode(data_path.resolve())).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"spanhouse-{digest}.sql.sock"


class QueryServer:
    """Answers `POST /query {"query": ...}` on a unix socket, running each query in a thread."""

    def __init__(self, socket_path: Path, run_query: RunQuery) -> None:
        self._path = socket_path
        self._run_query = run_query
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/query", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        self._path.unlink(missing_ok=True)  # left over from a process that was killed
        await web.UnixSite(runner, str(self._path)).start()
        os.chmod(self._path, 0o600)
        self._runner = runner

    async def _handle(self, request: web.Request) -> web.Response:
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


class QueryError(Exception):
    pass


async def _query_socket(socket_path: Path, query: str) -> QueryResult:
    async with ClientSession(connector=UnixConnector(path=str(socket_path))) as session, \
            session.post("http://collector/query", json={"query": query}) as response:
        payload = await response.json(loads=orjson.loads)
    if "error" in payload:
        raise QueryError(payload["error"])
    return payload["columns"], payload["rows"]


def query_running_collector(socket_path: Path, query: str) -> QueryResult | None:
    """The result from the collector listening on `socket_path`, or None if none listens."""
    if not socket_path.exists():
        return None
    try:
        return asyncio.run(_query_socket(socket_path, query))
    except OSError:  # a socket left by a killed collector: nobody listens
        return None


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
