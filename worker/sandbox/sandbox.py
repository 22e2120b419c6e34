"""The :class:`Sandbox` facade: state, faults, call log and the HTTP server in one object."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from worker.sandbox.admin import Admin
from worker.sandbox.calls import CallLog, CallRecord
from worker.sandbox.dispatch import Dispatcher
from worker.sandbox.faults import Faults
from worker.sandbox.platforms import build_platforms
from worker.sandbox.protocol import PlatformEndpoints, Request, Response
from worker.sandbox.robots import Robots
from worker.sandbox.seed import apply_seed
from worker.sandbox.server import LOOPBACK, SandboxServer
from worker.sandbox.wechat_endpoints import REVOCABLE, WechatApi
from worker.sandbox.wechat_state import Reply
from worker.sandbox.weibo_endpoints import WeiboApi

_Api = TypeVar("_Api")


class Sandbox:
    """A local server speaking the WeChat comment/blacklist/token APIs and Weibo's
    ``comments/show``, ``comments/destroy_batch/own/biz`` and ``comments/show_batch/biz``,
    on 127.0.0.1 only.

    Every method is thread-safe. Times (``create_time``, token expiry, rate-limit windows)
    come from the sandbox clock: ``clock`` (default ``time.time``) plus whatever
    :meth:`advance_time` added, so tests can expire tokens without sleeping.

    Settings (all keyword-only):

    - ``port``: 0 picks a free one; ``host``: only ``127.0.0.1`` is accepted;
    - ``seed``: seeds the fault generator (same requests, same faults);
    - ``token_ttl`` (``expires_in`` of WeChat tokens), ``token_overlap`` (how long a
      superseded classic token still works), ``stable_renew_before`` (a normal stable_token
      call renews this close to expiry; capped at half the ttl), ``stable_force_per_day``
      and ``stable_force_interval`` (force_refresh limits);
    - ``list_count_max`` (largest accepted ``comment/list`` count; 49 per the Chinese doc's
      ">= 50 is refused"), ``reply_max_len`` (88007 above it), ``blacklist_batch_max``
      (40032 above it), ``blacklist_page_size`` (getblacklist page);
    - ``weibo_destroy_max`` (cids per destroy_batch), ``weibo_count_max`` (show page cap),
      ``weibo_show_batch_max`` (cids per show_batch): each platform's module takes its own
      (:class:`~worker.sandbox.wechat_endpoints.WechatLimits`,
      :class:`~worker.sandbox.weibo_endpoints.WeiboLimits`); an unknown one is a TypeError;
    - ``max_calls``: the call log keeps this many records, dropping the oldest.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = LOOPBACK,
        seed: int | None = None,
        max_calls: int = 100_000,
        clock: Callable[[], float] | None = None,
        **limits: Any,
    ) -> None:
        if host != LOOPBACK:
            raise ValueError(f"the sandbox binds {LOOPBACK} only, not {host!r}")
        self._port = port
        self._clock = clock or time.time
        self._offset = 0.0
        self._lock = threading.RLock()
        self.faults = Faults(seed=seed)
        self._calls = CallLog(max_calls=max_calls)
        self._platforms = build_platforms(self.faults, limits)
        wechat = self._platform_as("wechat", WechatApi)
        self._wechat, self._tokens = wechat.state, wechat.tokens
        self._weibo = self._platform_as("weibo", WeiboApi).state
        self.robots = Robots()  # team-chat robot webhooks (notify channels)
        self._dispatcher = Dispatcher(
            lock=self._lock, clock=self.now, faults=self.faults, calls=self._calls,
            platforms=self._platforms, admin=Admin(self).handle, robots=self.robots,
        )
        self._server: SandboxServer | None = None

    def platform(self, name: str) -> PlatformEndpoints:
        """Platform ``name``'s endpoints object (its state, for a platform the facade has
        no helper methods for); KeyError for a platform no spec declares."""
        return self._platforms[name]

    def _platform_as(self, name: str, cls: type[_Api]) -> _Api:
        api = self._platforms[name]
        if not isinstance(api, cls):
            raise TypeError(f"the sandbox's {name} is a {type(api).__name__}, not a {cls.__name__}")
        return api

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Sandbox:
        if self._server is not None:
            raise RuntimeError("sandbox already started")
        self._server = SandboxServer(port=self._port, dispatch=self.dispatch)
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("sandbox not started")
        return self._server.port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the ``api_base`` for both platforms' clients."""
        return f"http://{LOOPBACK}:{self.port}"

    def dispatch(self, req: Request) -> Response:
        """Answer one request (what the HTTP server calls; usable without a socket too)."""
        return self._dispatcher.dispatch(req)

    # -- clock ---------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock() + self._offset

    def advance_time(self, seconds: float) -> None:
        """Move the sandbox clock forward: tokens expire, rate-limit windows roll over."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._offset += seconds

    # -- WeChat --------------------------------------------------------------------------

    def add_wechat_app(self, app_id: str, app_secret: str) -> None:
        """Register credentials the token endpoints accept (again: new secret)."""
        with self._lock:
            self._wechat.add_app(app_id, app_secret)

    def add_article(
        self,
        app_id: str,
        *,
        msg_data_id: int,
        index: int = 0,
        comments_open: bool = True,
        privilege: bool = True,
        limited: bool = False,
        max_elected: int | None = None,
        title: str = "",
        mass_sent_at: float | None = None,
    ) -> None:
        """Add (or update the flags of) an article: ``privilege=False`` gives 88000,
        ``limited=True`` 88002, ``max_elected`` the elected-comment cap (88003);
        ``mass_sent_at`` (Unix seconds) lists it in ``datacube/getarticlesummary`` for that
        day."""
        with self._lock:
            self._wechat.add_article(
                app_id,
                msg_data_id=msg_data_id,
                index=index,
                comments_open=comments_open,
                privilege=privilege,
                limited=limited,
                max_elected=max_elected,
                title=title,
                mass_sent_at=mass_sent_at,
            )

    def publish_articles(
        self, app_id: str, *, msg_data_id: int, count: int = 1, at: float | None = None,
        title: str = "",
    ) -> list[tuple[int, int]]:
        """A mass send of ``count`` articles (indexes 0..count-1) at ``at`` (default: now on
        the sandbox clock), comments open; returns the ``(msg_data_id, index)`` pairs."""
        if count < 1:
            raise ValueError(f"a mass send holds at least one article, got count={count}")
        sent_at = self.now() if at is None else float(at)
        for index in range(count):
            self.add_article(
                app_id, msg_data_id=msg_data_id, index=index, mass_sent_at=sent_at,
                title=f"{title or msg_data_id} #{index + 1}",
            )
        return [(msg_data_id, index) for index in range(count)]

    def add_wechat_comment(
        self,
        app_id: str,
        msg_data_id: int,
        index: int = 0,
        *,
        content: str,
        openid: str | None = None,
        create_time: int | None = None,
        elected: bool = False,
        reply: str | None = None,
        reply_time: int | None = None,
        follower: bool = True,
    ) -> int:
        """A user comments; returns its ``user_comment_id`` (1, 2, ... per article).

        The commenter's openid becomes one of the app's followers (so it can be
        blacklisted) unless ``follower=False``.
        """
        with self._lock:
            now = int(self.now())
            article = self._wechat.article(app_id, msg_data_id, index)
            comment = article.add(
                content=content,
                openid=openid,
                create_time=now if create_time is None else int(create_time),
                elected=elected,
                reply=None
                if reply is None
                else Reply(content=reply, create_time=now if reply_time is None else reply_time),
            )
            if openid is not None and follower:
                self._wechat.app(app_id).followers.add(openid)
            return comment.user_comment_id

    def user_delete_comment(
        self, app_id: str, msg_data_id: int, index: int, user_comment_id: int
    ) -> None:
        """The author deletes their comment: unlisted, 88004 on markelect, 88008 elsewhere."""
        with self._lock:
            self._wechat.user_delete(app_id, msg_data_id, index, user_comment_id)

    def add_follower(self, app_id: str, *openids: str) -> None:
        """Openids that belong to the app: the only ones the blacklist calls accept."""
        with self._lock:
            self._wechat.app(app_id).followers.update(openids)

    def add_foreign_openid(self, app_id: str, *openids: str) -> None:
        """Openids of another app: a blacklist batch holding one answers 49003."""
        with self._lock:
            self._wechat.app(app_id).foreign.update(openids)

    def blacklist_openids(self, app_id: str, *openids: str) -> None:
        """Put openids on the blacklist directly (seeding); they become followers too."""
        with self._lock:
            app = self._wechat.app(app_id)
            app.followers.update(openids)
            for openid in openids:
                app.blacklist[openid] = None

    def blacklist(self, app_id: str) -> list[str]:
        with self._lock:
            return list(self._wechat.app(app_id).blacklist)

    def revoke_api(self, app_id: str, endpoint: str) -> None:
        """``endpoint`` answers 48001 (api unauthorized) for this app until restored."""
        if endpoint not in REVOCABLE:
            raise ValueError(f"unknown WeChat endpoint {endpoint!r}")
        with self._lock:
            self._wechat.app(app_id).revoked.add(endpoint)

    def restore_api(self, app_id: str, endpoint: str) -> None:
        with self._lock:
            self._wechat.app(app_id).revoked.discard(endpoint)

    def invalidate_tokens(self, app_id: str | None = None) -> int:
        """Every issued token of ``app_id`` (or of all apps) answers 40001 from now on."""
        with self._lock:
            return self._tokens.invalidate(app_id)

    def token_fetches(self, app_id: str) -> int:
        """Requests to ``/cgi-bin/token`` and ``/cgi-bin/stable_token`` naming this app."""
        with self._lock:
            return self._wechat.app(app_id).token_fetches

    def wechat_comment(
        self, app_id: str, msg_data_id: int, index: int, user_comment_id: int
    ) -> dict[str, Any]:
        """One comment's full state (content, openid, deleted, elected, reply, ...)."""
        with self._lock:
            comment = self._wechat.article(app_id, msg_data_id, index).get(user_comment_id)
            if comment is None:
                raise KeyError(f"no comment {user_comment_id} on {msg_data_id}/{index}")
            return comment.to_state()

    def article_state(self, app_id: str, msg_data_id: int, index: int = 0) -> dict[str, Any]:
        with self._lock:
            return self._wechat.article(app_id, msg_data_id, index).to_state()

    # -- Weibo ---------------------------------------------------------------------------

    def add_weibo_token(
        self,
        *,
        access_token: str,
        uid: int,
        screen_name: str | None = None,
        expires_in: float | None = None,
    ) -> None:
        """A user's OAuth token; ``expires_in`` seconds from now (None: never)."""
        with self._lock:
            expires_at = None if expires_in is None else self.now() + expires_in
            self._weibo.add_token(access_token, uid, expires_at)
            if screen_name:
                self._weibo.screen_names[uid] = screen_name

    def expire_weibo_token(self, access_token: str) -> None:
        """The token answers 21327 (expired_token) from now on."""
        with self._lock:
            self._weibo.tokens[access_token].expires_at = self.now()

    def set_weibo_user(self, uid: int, *, screen_name: str) -> None:
        with self._lock:
            self._weibo.screen_names[uid] = screen_name

    def add_weibo_post(
        self,
        owner: str | int,
        *,
        status_id: int,
        text: str = "",
        created_at: float | None = None,
    ) -> None:
        """A post owned by ``owner``: a uid, or an access token added before."""
        with self._lock:
            if isinstance(owner, str):
                token = self._weibo.tokens.get(owner)
                if token is None:
                    raise KeyError("unknown Weibo access token; call add_weibo_token first")
                uid = token.uid
            else:
                uid = owner
            self._weibo.add_post(
                uid, status_id, text, self.now() if created_at is None else created_at
            )

    def delete_weibo_post(self, status_id: int) -> None:
        """The post is gone: ``comments/show`` answers 20101."""
        with self._lock:
            self._weibo.post(status_id).deleted = True

    def add_weibo_comment(
        self,
        status_id: int,
        *,
        text: str,
        uid: int,
        created_at: float | None = None,
        screen_name: str | None = None,
    ) -> int:
        """A user comments on a post; returns the comment id (int64-sized, grows with time)."""
        with self._lock:
            if screen_name:
                self._weibo.screen_names[uid] = screen_name
            comment = self._weibo.add_comment(
                status_id,
                text=text,
                uid=uid,
                created_at=self.now() if created_at is None else float(created_at),
            )
            return comment.id

    def weibo_comment(self, cid: int) -> dict[str, Any]:
        with self._lock:
            return self._weibo.comments[cid].to_state()

    # -- seeding and inspection ----------------------------------------------------------

    def load_seed(self, data: dict[str, Any]) -> dict[str, Any]:
        """Apply a seed document (format: :mod:`worker.sandbox.seed`)."""
        return apply_seed(self, data)

    def load_seed_file(self, path: str | Path) -> dict[str, Any]:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a seed file holds one JSON object")
        return self.load_seed(data)

    def state(self) -> dict[str, Any]:
        """A JSON-able dump of everything (no token or secret values)."""
        with self._lock:
            return {
                "time": self.now(),
                **{name: api.to_state() for name, api in self._platforms.items()},
                "faults": self.faults.to_dict(),
            }

    def calls(self, endpoint: str | None = None) -> list[CallRecord]:
        """Every platform request so far (oldest first), or those to one endpoint."""
        return self._calls.select(endpoint)

    def reset_calls(self) -> None:
        self._calls.clear()
