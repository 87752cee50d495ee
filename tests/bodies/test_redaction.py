"""Each kind of secret a stored body may carry becomes `[REDACTED:<kind>]`, in the forms it takes in
a request body (JSON-escaped text, a `.env` file read by Claude Code, an MCP server's token); the
text around it, and text that only looks a little like a secret, stays as it was."""

from __future__ import annotations

import json

import pytest

from shared.bodies.redaction import redact

PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("kind", "text", "secret"),
    [
        ("anthropic", "key: sk-ant-api03-Abc_def-1234567890abcdefghijkl-Wxyz done", "sk-ant-api03-"),
        ("anthropic", "admin sk-ant-admin01-Qwertyuiop0987654321asdfgh", "sk-ant-admin01-Qwer"),
        ("openai", "OPENAI_API_KEY=sk-proj-4f9Qz2LmN8vB1xC7dE3rT6yU", "4f9Qz2LmN8vB1xC7dE3rT6yU"),
        ("aws_access_key", "aws_access_key_id = AKIAQYLPMN5HHHFPZAM2\n", "AKIAQYLPMN5HHHFPZAM2"),
        (
            "aws_secret_key",
            "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
            "wJalrXUtnFEMI",
        ),
        (
            "aws_secret_key",
            '"aws_secret_access_key": "Je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"',
            "Je7MtGbClwBF",
        ),
        ("github", "token ghp_16C7e42F292c6912E7710c838347Ae178B4a in the remote", "ghp_16C7e42F"),
        ("github", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "github_pat_11ABC"),
        ("stripe", "STRIPE_SECRET=sk_live_51HxYzAbCdEfGhIjKlMnOpQr", "sk_live_51Hx"),
        ("stripe", "endpoint secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_MfKQ"),
        ("private_key", f"the key:\n{PEM}\nend", "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo"),
        ("bearer", 'curl -H "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig123"', "eyJhbGci"),
        ("secret", "DATABASE_PASSWORD=hunter2-correct-horse", "hunter2-correct-horse"),
        ("secret", '{"client_secret": "9f8e7d6c5b4a3f2e1d0c"}', "9f8e7d6c5b4a3f2e1d0c"),
    ],
)
def test_a_secret_becomes_a_marker_naming_its_kind(kind: str, text: str, secret: str) -> None:
    redacted = redact(text)
    assert secret not in redacted
    assert f"[REDACTED:{kind}]" in redacted
    # and inside a request body, JSON-escaped, as Claude Code sends a file it read
    body = json.dumps({"messages": [{"role": "user", "content": f"read .env:\n{text}\n"}]})
    assert secret not in redact(body) and f"[REDACTED:{kind}]" in redact(body)
    assert json.loads(redact(body))  # still JSON: only the secret's characters were replaced


def test_an_mcp_servers_authorization_token_is_redacted() -> None:
    body = json.dumps(
        {
            "mcp_servers": [
                {
                    "type": "url",
                    "url": "https://mcp.example.com/sse",
                    "name": "tracker",
                    "authorization_token": "opaque.t0ken/value",
                }
            ],
            "messages": [],
        }
    )
    redacted = json.loads(redact(body))
    assert redacted["mcp_servers"][0]["authorization_token"] == "[REDACTED:mcp_authorization_token]"
    assert redacted["mcp_servers"][0]["url"] == "https://mcp.example.com/sse"


@pytest.mark.parametrize(
    "text",
    [
        "a task-abcdefghijklmnopqrstuvwxyz0123 and a desk-lamp",
        "the password field is required",
        "AKIA is how AWS access key ids begin",
        '{"type": "tool_use", "name": "Bash", "input": {"command": "git push"}}',
        "Bearer tokens go in the Authorization header",
    ],
)
def test_text_that_only_resembles_a_secret_is_kept(text: str) -> None:
    assert redact(text) == text
