"""Feishu / Lark app: encrypted, signed event callbacks; answers as card JSON 2.0 replies."""
