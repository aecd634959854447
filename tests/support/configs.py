"""The collector configs of the tests, kept as files under tests/configs/ (checked by
`spanhouse validate` in tests/collector/test_config_files.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

CONFIGS_DIR: Final = Path(__file__).resolve().parent.parent / "configs"


def collector_config(name: str) -> str:
    """The template tests/configs/<name>.yaml, with its `{port:NAME}` and `{dir}` placeholders
    left for the `start_collector` fixture to fill."""
    return (CONFIGS_DIR / f"{name}.yaml").read_text()
