"""The streaming Anthropic proxy: `POST /proxy/{slug}/v1/messages` (and `count_tokens`)."""
