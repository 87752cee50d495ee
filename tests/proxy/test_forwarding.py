"""The header rules, one case per line of the contract."""

from __future__ import annotations

from functions.proxy.forwarding import caller_credential, client_response_headers, upstream_request_headers


def test_request_headers_keep_credentials_and_anthropic_headers_only() -> None:
    caller = [
        (b"host", b"proxy.example"),
        (b"x-api-key", b"sk-ant-api03-key"),
        (b"authorization", b"Bearer sk-ant-oat01-token"),
        (b"anthropic-version", b"2023-06-01"),
        (b"anthropic-beta", b"a"),
        (b"anthropic-beta", b"b"),
        (b"x-stainless-os", b"Linux"),
        (b"x-app", b"cli"),
        (b"x-claude-code-session-id", b"abc"),
        (b"user-agent", b"claude-cli/2.1.0"),
        (b"accept", b"application/json"),
        (b"accept-language", b"*"),
        (b"content-type", b"application/json"),
        (b"content-length", b"12"),
        (b"accept-encoding", b"gzip, br"),
        (b"cookie", b"session=1"),
        (b"x-forwarded-for", b"203.0.113.9"),
        (b"x-forwarded-proto", b"https"),
        (b"connection", b"keep-alive"),
        (b"keep-alive", b"timeout=5"),
        (b"transfer-encoding", b"chunked"),
        (b"te", b"trailers"),
        (b"upgrade", b"h2c"),
        (b"proxy-authorization", b"Basic eA=="),
        (b"x-amzn-trace-id", b"Root=1"),
    ]
    assert upstream_request_headers(caller) == [
        (b"x-api-key", b"sk-ant-api03-key"),
        (b"authorization", b"Bearer sk-ant-oat01-token"),
        (b"anthropic-version", b"2023-06-01"),
        (b"anthropic-beta", b"a"),
        (b"anthropic-beta", b"b"),
        (b"x-stainless-os", b"Linux"),
        (b"x-app", b"cli"),
        (b"x-claude-code-session-id", b"abc"),
        (b"user-agent", b"claude-cli/2.1.0"),
        (b"accept", b"application/json"),
        (b"accept-language", b"*"),
        (b"content-type", b"application/json"),
        (b"accept-encoding", b"identity"),
    ]


def test_response_headers_keep_what_describes_the_body_and_the_limits() -> None:
    upstream = [
        (b"Content-Type", b"text/event-stream; charset=utf-8"),
        (b"Request-Id", b"req_1"),
        (b"retry-after", b"7"),
        (b"anthropic-ratelimit-requests-remaining", b"99"),
        (b"anthropic-organization-id", b"org"),
        (b"content-length", b"10"),
        (b"content-encoding", b"gzip"),
        (b"transfer-encoding", b"chunked"),
        (b"connection", b"keep-alive"),
        (b"set-cookie", b"a=b"),
        (b"cf-ray", b"x"),
    ]
    assert client_response_headers(upstream) == [
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"request-id", b"req_1"),
        (b"retry-after", b"7"),
        (b"anthropic-ratelimit-requests-remaining", b"99"),
    ]


def test_the_paying_credential_is_the_api_key_else_the_bearer_token() -> None:
    assert caller_credential([(b"authorization", b"Bearer tok"), (b"x-api-key", b"key")]) == "key"
    assert caller_credential([(b"authorization", b"bearer  tok ")]) == "tok"
    assert caller_credential([(b"authorization", b"Basic dXNlcg==")]) is None
    assert caller_credential([(b"x-api-key", b"")]) is None
    assert caller_credential([]) is None
