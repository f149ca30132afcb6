"""Microsoft Teams bot (Bot Framework): JWT-checked activities, proactive replies to serviceUrl."""
