"""The platform-neutral comment: what the platform clients list, the rules engine judges
and the pipeline carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worker.platform_specs import Platform


@dataclass(frozen=True, slots=True, kw_only=True)
class Comment:
    """One listed comment, platform-neutral.

    ``id`` is the platform's comment id as a decimal string (WeChat ``user_comment_id``,
    Weibo comment ``id``); ``target`` is the target key (``"<msg_data_id>:<index>"`` on
    WeChat, the status id on Weibo); ``author`` is the WeChat openid or Weibo uid, None when
    the platform did not give one (WeChat comments under a non-WeChat identity).
    """

    platform: Platform
    id: str
    content: str
    account: str | None = None
    target: str | None = None
    author: str | None = None
    created_at: float | None = None  # Unix seconds
    elected: bool = False
    replied: bool = False

    @property
    def key(self) -> str:
        """Identity across the whole deployment: platform, account, target and comment id."""
        return f"{self.platform}:{self.account or '-'}:{self.target or '-'}:{self.id}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "id": self.id,
            "content": self.content,
            "account": self.account,
            "target": self.target,
            "author": self.author,
            "created_at": self.created_at,
            "elected": self.elected,
            "replied": self.replied,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comment:
        return cls(
            platform=data["platform"],
            id=str(data["id"]),
            content=data["content"],
            account=data.get("account"),
            target=data.get("target"),
            author=data.get("author"),
            created_at=data.get("created_at"),
            elected=bool(data.get("elected", False)),
            replied=bool(data.get("replied", False)),
        )
