"""Generic signed webhook (Standard Webhooks), for any system that is not a chat platform."""
