"""One comment serialisation: ``Comment.to_dict`` / ``from_dict``, derived from the dataclass,
and replay's input lines read through it (orjson's fast path equal to the standard library's)."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.comment import Comment
from worker.errors import CommentFormatError
from worker.replay_input import LineError, _parse_by_reference, parse_line

comments = st.builds(
    Comment,
    platform=st.sampled_from(["wechat", "weibo"]),
    id=st.text(min_size=1).filter(lambda s: s.encode("utf-8", "ignore").decode() == s),
    content=st.text(),
    account=st.none() | st.text(min_size=1),
    target=st.none() | st.text(min_size=1),
    author=st.none() | st.text(min_size=1),
    created_at=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    elected=st.booleans(),
    replied=st.booleans(),
)


@given(comments)
def test_a_comment_reads_back_as_itself_through_json(comment: Comment) -> None:
    assert Comment.from_dict(json.loads(json.dumps(comment.to_dict()))) == comment


def test_to_dict_holds_every_field_of_the_dataclass() -> None:
    comment = Comment(platform="weibo", id="1", content="x")
    assert list(comment.to_dict()) == [f.name for f in fields(Comment)]


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"platform": "wechat", "id": "3"}, "content", "no 'content'"),
    ({"platform": "qq", "id": "3", "content": "x"}, "platform",
     "'platform' must be wechat or weibo, got 'qq'"),
    ({"platform": "wechat", "id": True, "content": "x"}, "id",
     "'id' must be a string or a whole number, got True"),
    ({"platform": "wechat", "id": "1", "content": 5}, "content",
     "'content' must be a string, got 5"),
    ({"platform": "wechat", "id": "1", "content": "x", "elected": 1}, "elected",
     "'elected' must be true or false, got 1"),
    ({"platform": "wechat", "id": "1", "content": "x", "created_at": "today"}, "created_at",
     "'created_at' must be Unix seconds, got 'today'"),
    ({"platform": "wechat", "id": "1", "content": "x", "created_at": 10**400}, "created_at",
     "'created_at' is too large to be Unix seconds"),
])
def test_a_field_of_the_wrong_kind_is_named(data: dict[str, object], field: str,
                                            message: str) -> None:
    with pytest.raises(CommentFormatError) as caught:
        Comment.from_dict(data)
    assert caught.value.field == field and str(caught.value) == message


def test_numbers_are_read_as_identifiers_and_absent_fields_take_defaults() -> None:
    comment = Comment.from_dict({"id": 12, "content": "x", "author": 345, "account": None},
                                defaults={"platform": "weibo"})
    assert (comment.platform, comment.id, comment.author, comment.account) == (
        "weibo", "12", "345", None)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
line_objects = st.fixed_dictionaries(
    {"content": st.text() | json_values},
    optional={
        "id": st.text() | st.integers() | json_values,
        "platform": st.sampled_from(["wechat", "weibo", "qq"]),
        "author": st.text() | st.integers(min_value=-(10**30), max_value=10**30),
        "account": st.text(), "target": st.text() | st.integers(),
        "created_at": st.integers() | st.floats(),
        "elected": st.booleans() | st.integers(), "replied": st.booleans(),
    },
)


def _outcome(read: object, raw: bytes) -> object:
    try:
        return read(raw, 7)  # type: ignore[operator]
    except LineError as exc:
        return ("error", str(exc))


@given(line_objects)
def test_the_fast_path_reads_every_line_as_the_standard_library_does(
    data: dict[str, object],
) -> None:
    raw = (json.dumps(data, ensure_ascii=False, allow_nan=True) + "\n").encode(
        "utf-8", "surrogatepass")
    assert _outcome(parse_line, raw) == _outcome(_parse_by_reference, raw)


@pytest.mark.parametrize("raw", [
    b'{"id": 123456789012345678901234567890, "content": "x"}',
    b'{"id": "a", "content": "x", "created_at": NaN}',
    b'{"id": "a\\ud83d", "content": "x"}',
    b'{"id": "a", "content": "x \\ud83d", "author": "o\\udc00"}',
    b'\xef\xbb\xbf{"id": "a", "content": "x"}',
    b'{"id": "a", "content": "x"} {}',
    b'[1]',
])
def test_lines_orjson_refuses_or_reads_apart_get_the_standard_librarys_answer(
    raw: bytes,
) -> None:
    assert _outcome(parse_line, raw) == _outcome(_parse_by_reference, raw)
