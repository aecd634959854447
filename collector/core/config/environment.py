"""`${env:NAME}` and `${env:NAME:-default}` references in config strings, as the OpenTelemetry
Collector expands them; `$$` stands for a literal `$`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# `$$` is matched first so that `$${env:X}` reads as the literal text `${env:X}`.
_TOKEN = re.compile(r"\$\$|\$\{([^}]*)\}")
_ENV_REFERENCE = re.compile(r"env:([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Expansion:
    text: str
    # The whole string was one `${env:...}`: the collector then reads the result as YAML,
    # so that `port: ${env:PORT}` can become an integer.
    whole_reference: bool = False
    problems: list[str] = field(default_factory=list)


def expand(text: str, environ: Mapping[str, str]) -> Expansion:
    """`text` with every reference replaced, and what could not be replaced."""
    if "$" not in text:
        return Expansion(text)
    problems: list[str] = []
    parts: list[str] = []
    position = 0
    references = 0
    for match in _TOKEN.finditer(text):
        parts.append(text[position : match.start()])
        position = match.end()
        if match.group(0) == "$$":
            parts.append("$")
            continue
        reference = _ENV_REFERENCE.fullmatch(match.group(1))
        if reference is None:
            problems.append(
                f'unsupported reference "{match.group(0)}" (use ${{env:NAME}} or ${{env:NAME:-default}}; '
                "write $$ for a literal $)"
            )
            parts.append(match.group(0))
            continue
        references += 1
        name, default = reference.group(1), reference.group(2)
        if name in environ:
            parts.append(environ[name])
        elif default is not None:
            parts.append(default)
        else:
            problems.append(
                f"environment variable {name} is not set (use ${{env:{name}:-default}} for a default)"
            )
    parts.append(text[position:])
    whole = references == 1 and _TOKEN.fullmatch(text) is not None
    return Expansion("".join(parts), whole, problems)
