"""Slack app: Events API (mentions, DMs), the ``/anquan`` slash command and 👍/👎 buttons."""
