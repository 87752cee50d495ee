"""Which Claude Code session a call belongs to, and whether its main agent or a subagent made it.

What Claude Code 2.1 sends (seen against a stand-in upstream, see docs/sessions.md):
- every call: the header `x-claude-code-session-id: <uuid>`, and `metadata.user_id` in the body, a
  JSON string `{"device_id": "...", "account_uuid": "...", "session_id": "<uuid>"}` (older versions:
  `user_<hash>_account_<uuid>_session_<uuid>`);
- a subagent's calls (the `Agent` tool, formerly `Task`): also the header `x-claude-code-agent-id:
  <id of that subagent run>`, and its first system block, Claude Code's billing line
  `x-anthropic-billing-header: cc_version=...; cc_entrypoint=...; cc_is_subagent=true;`;
- a main-agent call: neither of the two, but the billing line without `cc_is_subagent`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

SESSION_HEADER = b"x-claude-code-session-id"
AGENT_HEADER = b"x-claude-code-agent-id"
# Header values travel in the usage message only up to this length (a real one is 36 or 17 characters).
HEADER_VALUE_LIMIT = 200

MAIN: Literal["main"] = "main"
SUBAGENT: Literal["subagent"] = "subagent"
Agent = Literal["main", "subagent"]

# What a session or agent id may look like (they become table keys).
ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_LEGACY_USER_ID = re.compile(r"_session_([A-Za-z0-9-]{1,128})$")
_BILLING_LINE = "x-anthropic-billing-header:"


@dataclass(frozen=True)
class SessionInfo:
    session_id: str | None = None
    agent: Agent | None = None  # None: not a Claude Code call, or one that cannot be told
    agent_id: str | None = None  # the subagent run (`x-claude-code-agent-id`), None for the main agent


def claude_code_headers(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, str | None]:
    """(session header, agent header) of a request, as received (bounded in length)."""
    session = agent = None
    for name, value in headers:
        if name == SESSION_HEADER:
            session = value[:HEADER_VALUE_LIMIT].decode("latin-1")
        elif name == AGENT_HEADER:
            agent = value[:HEADER_VALUE_LIMIT].decode("latin-1")
    return session, agent


def _valid(value: Any) -> str | None:
    return value if isinstance(value, str) and ID_PATTERN.match(value) else None


def _session_from_user_id(user_id: Any) -> str | None:
    if not isinstance(user_id, str):
        return None
    if user_id.startswith("{"):
        try:
            parsed = json.loads(user_id)
        except ValueError:
            return None
        return _valid(parsed.get("session_id")) if isinstance(parsed, dict) else None
    match = _LEGACY_USER_ID.search(user_id)
    return _valid(match.group(1)) if match else None


def _billing_line(payload: dict[str, Any]) -> str | None:
    system = payload.get("system")
    blocks = system if isinstance(system, list) else [system]
    for block in blocks[:3]:
        text = block.get("text") if isinstance(block, dict) else block
        if isinstance(text, str) and text.startswith(_BILLING_LINE):
            return text
    return None


def session_of(
    session_header: str | None, agent_header: str | None, request_body: str | bytes | None
) -> SessionInfo:
    """The session and agent of one call, from its headers and (when given) its request body.

    The body is read only for what the headers do not say: the session of a client that sends no
    session header, and the main/subagent mark of a call without the agent header.
    """
    session_id = _valid(session_header)
    agent_id = _valid(agent_header)
    if agent_id is not None and session_id is not None:
        return SessionInfo(session_id, SUBAGENT, agent_id)
    payload: Any = None
    if request_body:
        try:
            payload = json.loads(request_body)
        except ValueError:
            payload = None
    billing = None
    if isinstance(payload, dict):
        metadata = payload.get("metadata")
        if session_id is None and isinstance(metadata, dict):
            session_id = _session_from_user_id(metadata.get("user_id"))
        billing = _billing_line(payload)
    if session_id is None:
        return SessionInfo()
    if agent_id is not None or (billing is not None and "cc_is_subagent=true" in billing):
        return SessionInfo(session_id, SUBAGENT, agent_id)
    if billing is not None or _valid(session_header) is not None:
        # Claude Code marks its subagents (header and billing line) since 2.1: unmarked is the main agent.
        return SessionInfo(session_id, MAIN, None)
    return SessionInfo(session_id, None, None)
