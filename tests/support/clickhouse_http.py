"""A test harness: the embedded ClickHouse engine (chdb) exposed over the ClickHouse HTTP
interface, so that code written for a ClickHouse server (clickhouse-connect's HTTP client)
can be tested on a machine without one. It is NOT a ClickHouse replacement: it speaks the
subset of the HTTP interface that clickhouse-connect's synchronous client uses, and every
statement runs on the real engine, which decides the answers.

    python -m tests.support.clickhouse_http --path DIR --port PORT [--user U --password P]

Supported: GET and POST on `/` (`/ping` answers "Ok."); the query in the `query` URL
parameter, in the body, or both (joined by a newline, as the server does), or as multipart
form fields; `database`, `default_format`, `query_id`, `param_*` query parameters, and
every other URL parameter applied as a setting (settings the engine does not know, such as
HTTP-only ones, are skipped); request bodies sent chunked and compressed with
Content-Encoding lz4 (frame), zstd, gzip or deflate; compressed answers when the client
asks (Accept-Encoding and enable_http_compression); `INSERT ... FORMAT fmt` followed by the
data, streamed into the engine's own input path; one user checked through basic auth,
X-ClickHouse-User/X-ClickHouse-Key headers or user/password parameters (a mismatch gets
code 516 AUTHENTICATION_FAILED with status 403, as a server answers); errors as a server
sends them: the status for the code, X-ClickHouse-Exception-Code and the message as body.
Answers carry X-ClickHouse-Summary, -Query-Id, -Format, -Timezone and
-Server-Display-Name.

Not supported: sessions (`session_id` is accepted, but every request runs in a fresh
engine handle, so SET, USE and temporary tables do not outlive their request, and two
requests in one session are not refused as a server would); `client_protocol_version`
(Native answers carry no block info: the client's probe sees that and uses protocol 0,
as behind a proxy that drops the parameter); the `compress`/`decompress` parameters
(ClickHouse's own block compression); external data tables; streamed progress headers;
streaming answers (every request is answered after it ran: wait_end_of_query always holds);
more than one user, roles, quotas, TLS. Requests run one at a time, under one lock.
"""

from __future__ import annotations

import argparse
import base64
import email.parser
import email.policy
import gzip
import json
import re
import signal
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import chdb

# URL parameters the HTTP interface consumes itself; everything else is a setting.
HTTP_PARAMETERS = frozenset({
    "query", "database", "default_format", "user", "password", "quota_key", "query_id",
    "session_id", "session_timeout", "session_check", "compress", "decompress", "buffer_size",
    "wait_end_of_query", "client_protocol_version", "role",
})
UNKNOWN_SETTING = 115
# The HTTP status a server answers for an exception code (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp,
# the codes a test can meet); any other code is 500.
STATUS_FOR_CODE = {
    194: 401,  # REQUIRED_PASSWORD
    **dict.fromkeys((192, 193, 497, 516), 403),  # UNKNOWN_USER, WRONG_PASSWORD, ACCESS_DENIED, AUTHENTICATION_FAILED
    **dict.fromkeys((6, 27, 36, 53, 62, 117, 321), 400),  # parse errors, BAD_ARGUMENTS, TYPE_MISMATCH, SYNTAX_ERROR...
    **dict.fromkeys((46, 47, 50, 56, 60, 73, 81, 115), 404),  # UNKNOWN_FUNCTION/_IDENTIFIER/_TYPE/_TABLE/...
    48: 501,  # NOT_IMPLEMENTED
    159: 408,  # TIMEOUT_EXCEEDED
}
INSERT_WITH_FORMAT = re.compile(rb"\A\s*(INSERT\s+INTO\s.*?)\s+FORMAT\s+(\w+)", re.IGNORECASE | re.DOTALL)
TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*\Z", re.IGNORECASE)
PRODUCES_RESULT = re.compile(r"\A[\s(]*(SELECT|WITH|SHOW|DESC|DESCRIBE|EXPLAIN|EXISTS|CHECK)\b", re.IGNORECASE)
SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ERROR_CODE = re.compile(r"Code: (\d+)\.")
CONTENT_TYPES = {"Native": "application/octet-stream", "RowBinary": "application/octet-stream",
                 "CSV": "text/csv; charset=UTF-8", "TabSeparated": "text/tab-separated-values; charset=UTF-8",
                 "TSV": "text/tab-separated-values; charset=UTF-8"}


class ClickHouseError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Request:
    sql: bytes
    database: str | None = None
    default_format: str = "TabSeparated"
    settings: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass
class Answer:
    body: bytes
    output_format: str | None
    summary: dict[str, str]


def _engine_error(error: Exception) -> ClickHouseError:
    text = str(error).strip()
    text = text[text.find("Code: "):] if "Code: " in text else text
    match = ERROR_CODE.search(text)
    return ClickHouseError(int(match.group(1)) if match else 1001, text)  # 1001: STD_EXCEPTION


def _statistic(result: Any, name: str) -> int:
    value = getattr(result, name, 0)
    try:
        return int(value() if callable(value) else value)
    except Exception:
        return 0


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Engine:
    """The embedded engine at one path. An anchor handle keeps it open; each request gets
    a handle of its own (settings are per handle) and they run one at a time."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._anchor = chdb.connect(path)
        version, timezone, compression = self._anchor.query(
            "SELECT version(), timezone(), getSetting('enable_http_compression')", "TabSeparated"
        ).bytes().decode().strip().split("\t")
        self.version, self.timezone = version, timezone
        self.compresses_by_default = compression not in ("0", "false")

    def close(self) -> None:
        with self._lock:
            self._anchor.close()

    def run(self, request: Request) -> Answer:
        with self._lock:
            handle = chdb.connect(self._path)
            try:
                return self._run(handle, request)
            finally:
                handle.close()

    def _run(self, handle: Any, request: Request) -> Answer:
        started = time.monotonic_ns()
        try:
            if request.database:
                handle.query(f"USE `{request.database.replace('`', '``')}`", "TabSeparated")
            # readonly last: once it is on, no further setting could be applied.
            for name, value in sorted(request.settings.items(), key=lambda item: item[0] == "readonly"):
                if not SETTING_NAME.fullmatch(name):
                    continue  # cannot be a setting, like the unknown ones below
                try:
                    handle.query(f"SET {name} = {_quote(value)}", "TabSeparated")
                except Exception as error:
                    if _engine_error(error).code != UNKNOWN_SETTING:
                        raise
            insert = INSERT_WITH_FORMAT.match(request.sql)
            if insert is not None:
                data = _insert_data(request.sql, insert.end())
                with handle.send_insert(insert.group(1).decode(), insert.group(2).decode()) as inserter:
                    if data:
                        inserter.append(data)
                    result = inserter.finish()
                body, output_format = b"", None
            else:
                sql = request.sql.decode()
                result = handle.query(sql, request.default_format, params=request.parameters)
                body = result.bytes() or b""
                explicit = TRAILING_FORMAT.search(sql)
                output_format = explicit.group(1) if explicit else request.default_format
                if not body and not PRODUCES_RESULT.match(sql):
                    output_format = None
        except Exception as error:
            raise _engine_error(error) from error
        summary = {"read_rows": _statistic(result, "rows_read"), "read_bytes": _statistic(result, "bytes_read"),
                   "written_rows": _statistic(result, "rows_written"),
                   "written_bytes": _statistic(result, "bytes_written"), "total_rows_to_read": 0,
                   "result_rows": 0, "result_bytes": len(body), "elapsed_ns": time.monotonic_ns() - started}
        return Answer(body, output_format, {name: str(value) for name, value in summary.items()})


def _insert_data(sql: bytes, format_end: int) -> bytes:
    """The data after `INSERT ... FORMAT fmt`: after the first newline if only whitespace
    comes before it, else after the whitespace (the server's rule)."""
    position = format_end
    while position < len(sql) and sql[position] in b" \t\r\f\v\n":
        if sql[position] == 0x0A:
            return sql[position + 1:]
        position += 1
    return sql[position:]


def _decompress(data: bytes, encoding: str) -> bytes:
    if encoding in ("", "identity"):
        return data
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "deflate":
        return zlib.decompress(data)
    if encoding == "zstd":
        from clickhouse_connect.driver.compression import _zstd_decompress
        return _zstd_decompress(data)
    if encoding == "lz4":  # one frame per block the client sent
        import lz4.frame
        parts = []
        while data:
            part, used = lz4.frame.decompress(data, return_bytes_read=True)
            parts.append(part)
            data = data[used:]
        return b"".join(parts)
    raise ClickHouseError(36, f"Code: 36. DB::Exception: Unknown HTTP compression method {encoding!r}. (BAD_ARGUMENTS)")


def _compress(data: bytes, accepted: str) -> tuple[bytes, str | None]:
    for encoding in (part.split(";")[0].strip().lower() for part in accepted.split(",")):
        if encoding == "lz4":
            import lz4.frame
            return lz4.frame.compress(data), encoding
        if encoding == "zstd":
            from clickhouse_connect.driver.compression import _zstd_compress
            return _zstd_compress(data), encoding
        if encoding == "gzip":
            return gzip.compress(data), encoding
        if encoding == "deflate":
            return zlib.compress(data), encoding
    return data, None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        body = self._read_body()
        query_id = params.get("query_id") or str(uuid.uuid4())
        if url.path == "/ping" or (url.path == "/" and not params.get("query") and not body):
            self._send(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
            return
        try:
            if url.path != "/":
                raise ClickHouseError(
                    48, f"Code: 48. DB::Exception: This test harness serves only / and /ping, not {url.path}. "
                        f"(NOT_IMPLEMENTED)")
            self._authenticate(params)
            for unsupported in ("compress", "decompress"):
                if params.get(unsupported) not in (None, "", "0"):
                    raise ClickHouseError(48, f"Code: 48. DB::Exception: This test harness does not support "
                                              f"{unsupported}=1. (NOT_IMPLEMENTED)")
            body = _decompress(body, self.headers.get("Content-Encoding", "").strip().lower())
            query = params.get("query", "").encode()
            content_type = self.headers.get("Content-Type", "")
            if content_type.startswith("multipart/form-data"):
                fields = self._form_fields(content_type, body)
                params.update(fields)
                query, body = fields.get("query", params.get("query", "")).encode(), b""
            sql = query + b"\n" + body if query and body else query or body
            if not sql.strip():
                raise ClickHouseError(62, "Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)")
            settings = {name: value for name, value in params.items()
                        if name not in HTTP_PARAMETERS and not name.startswith("param_")}
            if self.command == "GET" and settings.get("readonly", "0") == "0":
                settings["readonly"] = "2"  # the server's rule: GET only reads
            request = Request(sql, params.get("database") or None, params.get("default_format") or "TabSeparated",
                              settings, {name[6:]: value for name, value in params.items()
                                         if name.startswith("param_")})
            answer = self.server.engine.run(request)
        except ClickHouseError as error:
            message = str(error)
            if "(version " not in message:
                message = f"{message} (version {self.server.engine.version})"
            self._send(STATUS_FOR_CODE.get(error.code, 500), (message + "\n").encode(), {
                "Content-Type": "text/plain; charset=UTF-8", "X-ClickHouse-Exception-Code": str(error.code),
                "X-ClickHouse-Query-Id": query_id})
            return
        headers = {"X-ClickHouse-Query-Id": query_id, "X-ClickHouse-Summary": json.dumps(answer.summary)}
        body = answer.body
        if answer.output_format is not None:
            headers["X-ClickHouse-Format"] = answer.output_format
            headers["Content-Type"] = CONTENT_TYPES.get(
                answer.output_format,
                "application/json; charset=UTF-8" if answer.output_format.startswith("JSON")
                else "text/plain; charset=UTF-8")
        else:
            headers["Content-Type"] = "text/plain; charset=UTF-8"
        compression = params.get("enable_http_compression")
        if body and (compression not in ("0", "false") if compression is not None
                     else self.server.engine.compresses_by_default):
            body, encoding = _compress(body, self.headers.get("Accept-Encoding", ""))
            if encoding:
                headers["Content-Encoding"] = encoding
        self._send(200, body, headers)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authenticate(self, params: Mapping[str, str]) -> None:
        user, password = params.get("user"), params.get("password")
        authorization = self.headers.get("Authorization", "")
        if authorization.startswith("Basic "):
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
        elif "X-ClickHouse-User" in self.headers:
            user, password = self.headers["X-ClickHouse-User"], self.headers.get("X-ClickHouse-Key", "")
        user = user or "default"
        if (user, password or "") != (self.server.user, self.server.password):
            raise ClickHouseError(516, f"Code: 516. DB::Exception: {user}: Authentication failed: password is "
                                       f"incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)")

    @staticmethod
    def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        fields = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename() is not None:
                raise ClickHouseError(48, "Code: 48. DB::Exception: This test harness does not support external "
                                          "data. (NOT_IMPLEMENTED)")
            payload = part.get_payload(decode=True)
            fields[str(name)] = payload.decode() if isinstance(payload, bytes) else str(payload)
        return fields

    def _send(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        for name, value in {"X-ClickHouse-Server-Display-Name": "spanhouse-test-harness",
                            "X-ClickHouse-Timezone": self.server.engine.timezone, **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Keep-Alive", "timeout=10")
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], engine: Engine, user: str, password: str,
                 verbose: bool = False) -> None:
        super().__init__(address, Handler)
        self.engine, self.user, self.password, self.verbose = engine, user, password, verbose


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", required=True, help="the engine's data directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--user", default="default")
    parser.add_argument("--password", default="")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    engine = Engine(args.path)
    server = Server((args.host, args.port), engine, args.user, args.password, args.verbose)

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"serving ClickHouse {engine.version} from {args.path} on http://{args.host}:{server.server_port}",
          flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
        engine.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
