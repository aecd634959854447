"""The `spanhouse` command: run, validate, version, sql, schema."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from spanhouse.collector import __version__
from spanhouse.collector.config.loader import load_config
from spanhouse.collector.config.model import ServiceConfig
from spanhouse.collector.core.config.errors import ConfigError
from spanhouse.collector.registry import default_registry
from spanhouse.collector.telemetry.logs import configure_logging

logger = logging.getLogger("spanhouse")

DEFAULT_CONFIG = "collector.yaml"


def _load(path: str) -> ServiceConfig:
    return load_config(Path(path), default_registry())


def cmd_run(args: argparse.Namespace) -> int:
    from spanhouse.collector.server.fd_budget import raise_open_file_limit
    from spanhouse.collector.service import Service

    config = _load(args.config)
    configure_logging(config.telemetry.logs_level)
    # Before anything opens a file: the listeners' caps are computed from the raised limit.
    soft, hard = raise_open_file_limit()
    logger.info("spanhouse %s starting with %s (open-file limit %d, hard %d)", __version__, args.config, soft, hard)
    service = Service(config)
    try:
        return asyncio.run(service.run())
    except OSError as error:
        logger.error("cannot start: %s", error)
        return 1


def cmd_validate(args: argparse.Namespace) -> int:
    config = _load(args.config)
    print(f"{args.config}: valid ({len(config.pipelines)} pipeline(s): {', '.join(config.pipelines)})")
    return 0


def cmd_version(args: argparse.Namespace) -> int:
    print(f"spanhouse {__version__}")
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from spanhouse.collector.sql import format_result
    from spanhouse.collector.sql_command import run_read_only_query

    config = _load(args.config)
    columns, rows = run_read_only_query(config, args.query, exporter_id=args.exporter)
    sys.stdout.write(format_result(columns, rows, args.format))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    import orjson

    from spanhouse.collector.config.jsonschema import build_schema

    schema = build_schema(default_registry())
    sys.stdout.write(orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spanhouse", description="OpenTelemetry trace collector into ClickHouse")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_config(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument("--config", default=DEFAULT_CONFIG, help="config file (default: ./collector.yaml)")
        return sub

    with_config(commands.add_parser("run", help="run the collector")).set_defaults(handler=cmd_run)
    with_config(commands.add_parser("validate", help="check a config without starting")).set_defaults(
        handler=cmd_validate)
    commands.add_parser("version", help="print the version").set_defaults(handler=cmd_version)
    sql = with_config(commands.add_parser("sql", help="run a read-only query on the configured ClickHouse"))
    sql.add_argument("query")
    sql.add_argument("--format", choices=("table", "json", "csv"), default="table")
    sql.add_argument("--exporter", default=None, help="clickhouse exporter id (default: the first one)")
    sql.set_defaults(handler=cmd_sql)
    commands.add_parser("schema", help="print the config JSON Schema").set_defaults(handler=cmd_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return 2
    except Exception as error:  # the one place that turns an error into an exit status
        print(f"spanhouse {args.command}: {error}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
