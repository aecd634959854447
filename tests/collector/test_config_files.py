"""Every collector config of the tests (tests/configs/**.yaml, templates the `start_collector`
fixture fills) passes the real `spanhouse validate` once its placeholders have sample values,
so that a config a test starts from cannot rot into one a user's collector would refuse."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import pytest

from spanhouse.collector.cli import main
from tests.security.certs import make_certificates
from tests.support.configs import CONFIGS_DIR

TEMPLATES: Final = sorted(CONFIGS_DIR.rglob("*.yaml"))
# {port:NAME}, {dir} and the few named values a test fills itself (str.replace or format).
PLACEHOLDER: Final = re.compile(r"\{(port:[A-Za-z0-9_]+|[a-z_]+)\}")
TOKEN_FILE: Final = re.compile(r"token_file: ([\w.]+)")
ENV_REFERENCE: Final = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
SAMPLE_VALUES: Final = {"vendor": "zipkin", "http": "4318", "health": "13133", "metrics": "8888",
                        "queue_size": "1000", "shutdown_timeout": "30s",
                        "webhook_secrets": "whsec_sample_0123456789, whsec_sample_old_0123456789"}
SAMPLE_PORT_BASE: Final = 20000
# %(name)s fields of the configs a test fills with the % operator (test_tls.py: the client CA line).
PERCENT_FIELD: Final = re.compile(r"%\(([a-z_]+)\)s")
PERCENT_SAMPLES: Final = {"client_ca": "client_ca_file: certs/ca.pem"}
# Positional % fields, by template: the monthly event limit; the upstream's port and the PII mode.
POSITIONAL_SAMPLES: Final[dict[str, tuple[object, ...]]] = {
    "adapters/agentvista.yaml": (0,), "adapters/aitracer_proxy.yaml": (4319, "detect")}


def fill(text: str, directory: Path) -> str:
    ports: dict[str, int] = {}

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("port:"):
            return str(ports.setdefault(name, SAMPLE_PORT_BASE + len(ports)))
        if name == "dir":
            return str(directory)
        if name not in SAMPLE_VALUES:
            raise AssertionError(f"placeholder {{{name}}}: add a sample value to SAMPLE_VALUES")
        return SAMPLE_VALUES[name]

    return PERCENT_FIELD.sub(lambda match: PERCENT_SAMPLES[match.group(1)], PLACEHOLDER.sub(value, text))


def test_there_are_configs() -> None:
    assert len(TEMPLATES) >= 10


@pytest.mark.parametrize("template", TEMPLATES, ids=[str(path.relative_to(CONFIGS_DIR)) for path in TEMPLATES])
def test_spanhouse_validate_accepts(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    text = template.read_text()
    for name in ENV_REFERENCE.findall(text):
        monkeypatch.setenv(name, f"sample-{name.lower()}-0123456789abcdef")
    if "certs/" in text:  # TLS configs name the certificates the test makes beside the config
        make_certificates(tmp_path / "certs")
    for name in TOKEN_FILE.findall(text):  # and auth configs a token file the test writes
        (tmp_path / name).write_text("sample-token-file-0123456789abcdef\n")
    path = tmp_path / template.name
    filled = fill(text, tmp_path)
    positional = POSITIONAL_SAMPLES.get(str(template.relative_to(CONFIGS_DIR)))
    path.write_text(filled % positional if positional is not None else filled)
    code = main(["validate", "--config", str(path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith(f"{path}: valid"), captured.out
