"""The governance rules, as pure functions over text and values: PII and secrets found (and
masked) in prompts and responses, models outside an allow-list, cost above a ceiling. Shared
by the `governance` processor and the AITracer proxy's preflight."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

PII_EMAIL: Final = "pii.email"
PII_PHONE: Final = "pii.phone"
PII_CARD: Final = "pii.card"
PII_SECRET: Final = "pii.secret"
MODEL_NOT_ALLOWED: Final = "model.not_allowed"
COST_CEILING: Final = "cost.ceiling"
PII_RULES: Final = (PII_EMAIL, PII_PHONE, PII_CARD, PII_SECRET)
ALL_RULES: Final = (*PII_RULES, MODEL_NOT_ALLOWED, COST_CEILING)

# A span's severity is its worst finding's.
SEVERITY_BY_RULE: Final = {PII_SECRET: "high", PII_CARD: "high", PII_EMAIL: "medium", PII_PHONE: "medium",
                           MODEL_NOT_ALLOWED: "medium", COST_CEILING: "low"}
SEVERITY_ORDER: Final = ("low", "medium", "high")

# One pass over the text finds every kind. Secrets come first so that the digits inside a key
# are not read as a phone or card number.
_SECRET: Final = (
    r"sk-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_\-]{20,}"  # OpenAI, Anthropic, Stripe
    r"|akt_[A-Za-z0-9_]{16,}"  # AITracer workspace keys
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{36,}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{22,}"
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_\-]{35}"  # Google API keys
    r"|-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"
)
_EMAIL: Final = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
# 13 to 19 digits, optionally grouped by spaces or dashes; checked with Luhn afterwards.
_CARD: Final = r"(?<![\d\-])\d(?:[ \-]?\d){12,18}(?![\d\-])"
# International (+CC ...) or grouped national numbers; 10 to 15 digits, counted afterwards.
_PHONE: Final = (r"(?<![\w+])(?:\+\d{1,3}[ .\-]?)?(?:\(\d{1,4}\)[ .\-]?)?\d{2,5}(?:[ .\-]\d{2,6}){1,4}(?![\w\-:]|\.\d)"
                 r"|(?<![\w+])\+\d{10,15}(?!\w)")
_PATTERN: Final = re.compile(f"(?P<secret>{_SECRET})|(?P<email>{_EMAIL})|(?P<card>{_CARD})|(?P<phone>{_PHONE})")
_RULE_BY_GROUP: Final = {"secret": PII_SECRET, "email": PII_EMAIL, "card": PII_CARD, "phone": PII_PHONE}
# Digit runs that are dates or IPv4 addresses, not phone numbers.
_NOT_PHONE: Final = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,3}(?:\.\d{1,3}){3}")
MIN_PHONE_DIGITS: Final = 10
MAX_PHONE_DIGITS: Final = 15


@dataclass(frozen=True, slots=True)
class Match:
    rule: str
    start: int
    end: int


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, character in enumerate(reversed(digits)):
        value = ord(character) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _digits(text: str) -> str:
    return "".join(character for character in text if character.isdigit())


def find_pii(text: str, rules: Iterable[str] = PII_RULES) -> list[Match]:
    """PII and secrets in `text`, in order, limited to `rules`."""
    wanted = frozenset(rules)
    found: list[Match] = []
    for match in _PATTERN.finditer(text):
        group = match.lastgroup
        if group is None:
            continue
        rule = _RULE_BY_GROUP[group]
        value = match.group()
        if rule == PII_CARD and not luhn_valid(_digits(value)):
            # Not a card: it may still be a phone number written with separators.
            digit_count = len(_digits(value))
            if PII_PHONE in wanted and MIN_PHONE_DIGITS <= digit_count <= MAX_PHONE_DIGITS and not value.isdigit():
                found.append(Match(PII_PHONE, match.start(), match.end()))
            continue
        if rule == PII_PHONE and (not MIN_PHONE_DIGITS <= len(_digits(value)) <= MAX_PHONE_DIGITS
                                  or _NOT_PHONE.match(value)):
            continue
        if rule in wanted:
            found.append(Match(rule, match.start(), match.end()))
    return found


def mask_text(text: str, matches: Sequence[Match], mask: str) -> str:
    """`text` with each match replaced by `mask` ("{rule}" in it names the rule)."""
    if not matches:
        return text
    parts: list[str] = []
    position = 0
    for match in matches:
        parts.append(text[position:match.start])
        parts.append(mask.replace("{rule}", match.rule))
        position = match.end
    parts.append(text[position:])
    return "".join(parts)


def model_allowed(model: str, allowed: Sequence[str]) -> bool:
    """Exact names or shell-style patterns (`gpt-4o*` also allows `gpt-4o-2024-08-06`)."""
    return any(model == pattern or fnmatch.fnmatchcase(model, pattern) for pattern in allowed)


def severity_of(rules: Iterable[str]) -> str:
    worst = -1
    for rule in rules:
        worst = max(worst, SEVERITY_ORDER.index(SEVERITY_BY_RULE.get(rule, "low")))
    return SEVERITY_ORDER[worst] if worst >= 0 else ""
