"""``modworker demo [--duration S]``: run the demo, print why it failed if it did."""

from __future__ import annotations

import argparse
import sys

from worker.demo.scenario import Demo
from worker.demo.setup import DemoError
from worker.errors import ProcessWaitError, SandboxAdminError

EXIT_FAILED = 1
EXIT_USAGE = 2


def cmd_demo(args: argparse.Namespace) -> int:
    duration = float(args.duration)
    if not 0 <= duration <= 3600:
        print("error: --duration must be between 0 and 3600 seconds", file=sys.stderr)
        return EXIT_USAGE
    demo = Demo(duration=duration, out=sys.stdout)
    try:
        return demo.run()
    except (DemoError, ProcessWaitError, SandboxAdminError) as exc:
        print(f"error: the demo failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
