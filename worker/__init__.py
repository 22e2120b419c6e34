"""modworker: an event-driven, rule-based moderation worker for WeChat and Weibo comments."""

__version__ = "0.1.0"
