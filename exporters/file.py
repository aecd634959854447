"""The `file` exporter: appends each batch as one line of OTLP/JSON, rotating by size."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, BinaryIO, Final

from spanhouse.collector.core.component import CreateSettings, Factory, Host, Kind, Traces, span_count
from spanhouse.collector.core.config.types import PATH
from spanhouse.collector.core.errors import RetryableError
from spanhouse.collector.core.metrics import Counter, exporter_sent_spans
from spanhouse.proto.otlp_json import encode_traces

MIB: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class FileConfig:
    path: Annotated[str, PATH] = field(default="./data/spans.jsonl", metadata={
        "description": "File the batches are appended to, one OTLP/JSON ExportTraceServiceRequest "
                       "per line; relative to the config file's directory."})
    max_megabytes: int = field(default=100, metadata={
        "description": "Size in MiB after which the file is rotated to <path>.1 (0: never rotate)."})
    max_backups: int = field(default=3, metadata={
        "description": "Rotated files to keep (<path>.1 is the newest); older ones are deleted."})

    def validate(self) -> list[tuple[str, str]]:
        problems = []
        if not self.path.strip():
            problems.append(("path", "must not be empty"))
        if self.max_megabytes < 0:
            problems.append(("max_megabytes", "must not be negative (0 disables rotation)"))
        if self.max_backups < 0:
            problems.append(("max_backups", "must not be negative"))
        return problems


class FileExporter:
    def __init__(self, settings: CreateSettings, config: FileConfig) -> None:
        self._settings = settings
        self._config = config
        path = Path(config.path).expanduser()
        self.path = path if path.is_absolute() else settings.config_dir / path
        self._max_bytes = config.max_megabytes * MIB
        self._file: BinaryIO | None = None
        self._started = False
        self._size = 0
        self._sent_spans: Counter | None = None

    async def start(self, host: Host) -> None:
        if host.telemetry is not None:
            self._sent_spans = exporter_sent_spans(host.telemetry, self._settings.component_id)
        if self._file is None:
            self._open()
        self._started = True

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "ab")  # noqa: SIM115 (kept open until shutdown)
        self._size = os.fstat(self._file.fileno()).st_size

    def _rotate(self) -> None:
        """path -> path.1 -> path.2 ...; the oldest beyond max_backups is overwritten."""
        assert self._file is not None
        self._file.close()
        self._file = None
        backups = self._config.max_backups
        if backups == 0:
            self.path.unlink(missing_ok=True)
        else:
            for number in range(backups - 1, 0, -1):
                older = Path(f"{self.path}.{number}")
                if older.exists():
                    os.replace(older, f"{self.path}.{number + 1}")
            os.replace(self.path, f"{self.path}.1")
        self._open()

    async def consume(self, traces: Traces) -> None:
        if not self._started:
            raise RetryableError(f"file exporter {self._settings.component_id} is not started")
        if not traces.resource_spans:
            return
        line = encode_traces(traces) + b"\n"
        try:
            if self._file is None:  # a rotation failed half-way; try again with this batch
                self._open()
            # Rotate before a write would pass the limit; a line larger than the limit still
            # gets a file of its own rather than being refused.
            if self._max_bytes and self._size and self._size + len(line) > self._max_bytes:
                self._rotate()
            assert self._file is not None
            self._file.write(line)
            self._file.flush()
        except OSError as error:
            self._discard_partial_line()
            raise RetryableError(f"writing {self.path}: {error}") from error
        self._size += len(line)
        if self._sent_spans is not None:
            self._sent_spans.add(span_count(traces))

    def _discard_partial_line(self) -> None:
        # A half-written line (disk full) would corrupt the next one appended after it.
        if self._file is None:
            return
        # If even this fails the file is unusable, and the error being raised says why.
        with contextlib.suppress(OSError):
            self._file.truncate(self._size)

    async def shutdown(self) -> None:
        self._started = False
        if self._file is not None:
            file, self._file = self._file, None
            file.close()


FACTORY: Final = Factory(
    type="file",
    kind=Kind.EXPORTER,
    config_class=FileConfig,
    create=lambda settings, config: FileExporter(settings, config),
    description="Appends spans to a file as OTLP/JSON lines, rotating it by size.",
)
