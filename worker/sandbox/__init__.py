"""A local HTTP server speaking the WeChat Official Account and Weibo comment APIs.

Used by the platform-client tests, the daemon tests and ``modworker demo``::

    from worker.sandbox import Sandbox

    with Sandbox(seed=1) as sb:
        sb.add_wechat_app(app_id="wx0123456789abcdef", app_secret="s3cret")
        sb.add_article("wx0123456789abcdef", msg_data_id=2247483650)
        cid = sb.add_wechat_comment("wx0123456789abcdef", 2247483650, 0, content="hi")
        client = make_client(api_base=sb.url)   # both platforms' hosts -> sb.url
        ...
        assert sb.calls("comment/delete")[-1].errcode == 0

One server serves both platforms on 127.0.0.1: WeChat under ``/cgi-bin/`` (tokens,
``comment/*``, ``tags/members/*``), Weibo under ``/2/comments/``, and admin calls under
``/_sandbox/`` (:mod:`worker.sandbox.admin`). Each platform spec is served by its
``worker.sandbox.<name>_endpoints`` module (:mod:`worker.sandbox.platforms`). Behaviour
and the error codes chosen where the documents are silent:
:mod:`worker.sandbox.wechat_endpoints`, :mod:`worker.sandbox.weibo_endpoints`,
:mod:`worker.sandbox.tokens`; faults: :mod:`worker.sandbox.faults`; seed files:
:mod:`worker.sandbox.seed`; process mode: ``python -m worker.sandbox --help``.
"""

from worker.sandbox.calls import CallRecord
from worker.sandbox.faults import Faults
from worker.sandbox.sandbox import Sandbox

__all__ = ["CallRecord", "Faults", "Sandbox"]
