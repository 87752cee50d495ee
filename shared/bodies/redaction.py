"""Secrets out of stored bodies: every match becomes `[REDACTED:<kind>]`.

Bodies are JSON, so a secret inside a prompt (a `.env` file Claude Code read, say) arrives with its
quotes escaped (`\\"`) and its newlines as `\\n`; the patterns allow for both. Every match of a rule
starts with one of its anchors, plain strings: the body is searched for those (`str.find`, fast) and
the rule's regex runs only where one occurs. A regex pass per rule over a 500 KB body would hold the
GIL for tens of milliseconds in the proxy, which streams other calls meanwhile.

Redaction errs on the side of hiding: a stored copy with a harmless value masked is better than one
with a key in it. What is relayed to and from Anthropic is never redacted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Where a match may start: not inside a word (after `_` is fine: `DB_PASSWORD=`), or after an escaped
# `\n`, `\r` or `\t`.
_START = r"(?:(?<=\\[nrt])|(?<![A-Za-z0-9]))"
# What may sit between a name and its value: quotes (escaped or not), spaces, `:` or `=`.
_SEPARATOR = r"(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?"
# A value that is already a marker (another rule's) is left alone.
_NOT_REDACTED = r"(?!\[REDACTED)"


@dataclass(frozen=True)
class _Rule:
    kind: str
    # Every match begins with one of these (lower case when `ignore_case`).
    anchors: tuple[str, ...]
    # Matched at an anchor; group `secret`, when there is one, is all that is replaced.
    pattern: re.Pattern[str]
    ignore_case: bool = False


def _rule(kind: str, anchors: tuple[str, ...], pattern: str, ignore_case: bool = False) -> _Rule:
    flags = re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL
    return _Rule(kind, anchors, re.compile(_START + pattern, flags), ignore_case)


# Order matters where patterns overlap: an Anthropic key also looks like an OpenAI one.
_RULES = (
    _rule("anthropic", ("sk-ant-",), r"sk-ant-[a-z]{2,8}\d{0,3}-[A-Za-z0-9_\-]{16,}"),
    _rule("openai", ("sk-",), r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"),
    _rule(
        "aws_access_key",
        ("AKIA", "ASIA", "ABIA", "ACCA"),
        r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])",
    ),
    _rule(
        "aws_secret_key",
        ("aws",),
        r"aws_?secret_?(?:access_?)?key" + _SEPARATOR + r"(?P<secret>[A-Za-z0-9/+=]{16,})",
        ignore_case=True,
    ),
    _rule(
        "github",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        r"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
    ),
    _rule(
        "stripe",
        ("sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"),
        r"(?:[sr]k_(?:live|test)_|whsec_)[A-Za-z0-9]{16,}",
    ),
    _rule(
        "private_key",
        ("-----BEGIN ",),
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
    ),
    _rule(
        "mcp_authorization_token",
        ("authorization_token",),
        r"authorization_token" + _SEPARATOR + _NOT_REDACTED + r"(?P<secret>(?:[^\"'\\]|\\[^\"'])+)",
    ),
    _rule(
        "bearer",
        ("bearer",),
        r"bearer\s+" + _NOT_REDACTED + r"(?P<secret>[A-Za-z0-9\-._~+/]{16,}=*)",
        ignore_case=True,
    ),
    _rule(
        "secret",
        ("pass", "secret", "client", "api", "access", "auth", "refresh", "private"),
        r"(?:password|passwd|secret(?:_?key)?|client_?secret|api_?key|access_?token|auth_?token"
        r"|refresh_?token|private_?key)" + _SEPARATOR + _NOT_REDACTED + r"(?P<secret>[^\s\"'\\,;]{8,})",
        ignore_case=True,
    ),
)


def _spans(rule: _Rule, text: str, haystack: str) -> list[tuple[int, int]]:
    """Where the rule's secrets are in `text`, in order, not overlapping."""
    spans: list[tuple[int, int]] = []
    for anchor in rule.anchors:
        at = haystack.find(anchor)
        while at >= 0:
            match = rule.pattern.match(text, at)
            if match is None:
                at = haystack.find(anchor, at + 1)
                continue
            spans.append(match.span("secret") if "secret" in rule.pattern.groupindex else match.span())
            at = haystack.find(anchor, match.end())
    spans.sort()
    kept: list[tuple[int, int]] = []
    for start, end in spans:
        if not kept or start >= kept[-1][1]:
            kept.append((start, end))
    return kept


def redact(text: str) -> str:
    """`text` with every secret the rules know replaced by a marker naming its kind."""
    lowered: str | None = None
    for rule in _RULES:
        if rule.ignore_case and lowered is None:
            lowered = text.lower()
        spans = _spans(rule, text, lowered if rule.ignore_case and lowered is not None else text)
        if not spans:
            continue
        marker = f"[REDACTED:{rule.kind}]"
        parts: list[str] = []
        position = 0
        for start, end in spans:
            parts += [text[position:start], marker]
            position = end
        parts.append(text[position:])
        text = "".join(parts)
        lowered = None  # positions moved
    return text
