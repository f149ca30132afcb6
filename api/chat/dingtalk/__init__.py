"""DingTalk enterprise robot, HTTP callback mode; replies through the message's sessionWebhook."""
