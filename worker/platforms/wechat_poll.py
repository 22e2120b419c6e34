"""How a WeChat article's comments are listed: offset paging that survives deletes.

Comments deleted meanwhile (by us, most often) shift the list up under the offset: when
``total`` shrank since the last page, the next page steps back by as much, so no comment is
jumped over (the sink's seen set drops the ones listed twice).

Between full passes only the new end of the list is read. Which end that is, WeChat does not
document (api-notes §1.4): the first page tells, by its creation times.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from worker.comment import Comment
from worker.config import PollingConfig
from worker.platforms.protocol import PollSink
from worker.platforms.results import CommentPage

MAX_PAGES = 10_000

#: Lists one page: (begin, count) -> page.
ListPage = Callable[[int, int], CommentPage]


def poll_article(list_page: ListPage, sink: PollSink, polling: PollingConfig) -> int:
    """List an article's new comments into ``sink``; how many were new. The cursor is the
    time of the last full pass (every ``full_pass_interval``)."""
    now = time.time()
    cursor = sink.cursor()
    full = cursor is None or now - float(cursor) >= polling.full_pass_interval
    size = polling.page_size
    page = list_page(0, size)
    if not full and _oldest_first(page.comments):
        return _poll_tail(list_page, sink, size, page)
    sent = 0
    last_total: int | None = None
    for _ in range(MAX_PAGES):
        if last_total is not None and page.total < last_total and page.begin > 0:
            step = min(last_total - page.total, page.begin)
            last_total = page.total
            page = list_page(page.begin - step, size)
            continue
        last_total = page.total
        sink.keep_alive()
        new = sink.send(page.comments)
        sent += new
        if not new and not full and page.comments:
            break  # newest first: a page of known comments means the rest are known too
        if not page.has_more:
            break
        page = list_page(page.next_begin, size)
    if full:
        sink.set_cursor(now)
    return sent


def _oldest_first(comments: Sequence[Comment]) -> bool:
    """Whether a page lists oldest first: by creation time (whole seconds), then by
    ``user_comment_id``, which counts up per article."""
    if len(comments) < 2:
        return False

    def age(comment: Comment) -> tuple[float, int]:
        number = int(comment.id) if comment.id.isdigit() else 0
        return (comment.created_at or 0.0, number)

    return age(comments[0]) < age(comments[-1])


def _poll_tail(list_page: ListPage, sink: PollSink, size: int, first: CommentPage) -> int:
    """Oldest first: new comments are at the end. Page back from it until a page holds a known
    comment (those before it are known too). Deletes shift comments toward the start, into the
    pages still to read: none is jumped over."""
    sink.keep_alive()
    sent = sink.send(first.comments)
    end = first.total
    for _ in range(MAX_PAGES):
        if end <= size:
            break  # the first page, read already
        begin = max(size, end - size)
        page = list_page(begin, end - begin)
        sink.keep_alive()
        new = sink.send(page.comments)
        sent += new
        if new < len(page.comments):
            break
        end = begin
    return sent
