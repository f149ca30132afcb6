"""Chat bots in workplace messaging: DingTalk, WeCom, Feishu/Lark, Slack, Teams, generic webhook.

One core (:mod:`api.chat.core`, :mod:`api.chat.service`) and thin adapters, one package per
platform with ``verify`` (raw bytes, injectable clock, constant-time compare, replay window),
``normalise`` (event → question with a thread id), ``render`` (pure, size-guarded) and ``send``
(base URL from settings). :func:`api.chat.routes.make_chat_router` mounts them under ``/chat``.
Set-up per platform: ``docs/chat-platforms.md``.
"""
