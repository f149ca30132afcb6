"""WeCom (企业微信): the self-built app callback (XML) and the AI bot callback (JSON, streamed)."""
