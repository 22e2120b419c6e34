"""Telling moderators: ``{notify: CHANNEL}`` actions and operational events, digested per
channel every ``notify.interval`` and sent to a team-chat robot (WeCom, DingTalk, Feishu) or a
plain webhook, signed and within each robot's rate limit, never in the way of moderation.

- :mod:`~worker.notify.robots`: each robot's request, signing and answers;
- :mod:`~worker.notify.limits`: the robots' rate limits, shared through Redis;
- :mod:`~worker.notify.digest`: entries -> digest messages;
- :mod:`~worker.notify.notifier`: the queue in Redis, flushing, retries, audit.
"""
