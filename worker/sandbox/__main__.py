"""Process mode: ``python -m worker.sandbox --port 8900 [--seed-file seed.json] [--seed N]``.

Prints exactly one line, ``sandbox listening on http://127.0.0.1:PORT``, to stdout (flushed)
once it accepts connections, then serves until SIGTERM or SIGINT and exits 0. ``--port 0``
picks a free port (read it from that line). Seed files are JSON; their format is in
:mod:`worker.sandbox.seed`. Everything else (adding comments, faults, inspection) goes
through the admin endpoints of :mod:`worker.sandbox.admin`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from worker.sandbox.sandbox import Sandbox
from worker.sandbox.server import LOOPBACK


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m worker.sandbox",
        description="Local WeChat OA + Weibo comment API sandbox (127.0.0.1 only).",
    )
    p.add_argument("--port", type=int, default=8900, help="0 picks a free port (default 8900)")
    p.add_argument("--host", default=LOOPBACK, help="must be 127.0.0.1 (the only one allowed)")
    p.add_argument("--seed-file", help="JSON seed document (see worker.sandbox.seed)")
    p.add_argument("--seed", type=int, default=None, help="fault RNG seed")
    p.add_argument("--token-ttl", type=float, default=7200.0, help="token lifetime, seconds")
    p.add_argument("--list-count-max", type=int, default=49, help="largest comment/list count")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.host != LOOPBACK:
        print(f"refusing to bind {args.host!r}: the sandbox binds {LOOPBACK} only", file=sys.stderr)
        return 2
    sandbox = Sandbox(
        port=args.port,
        seed=args.seed,
        token_ttl=args.token_ttl,
        list_count_max=args.list_count_max,
    )
    if args.seed_file:
        try:
            sandbox.load_seed_file(args.seed_file)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"seed file {args.seed_file}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        sandbox.start()
    except OSError as exc:
        print(f"cannot listen on {LOOPBACK}:{args.port}: {exc}", file=sys.stderr)
        return 2
    try:
        print(f"sandbox listening on {sandbox.url}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
