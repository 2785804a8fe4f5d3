"""`python -m tests.testenv install|up|down|status [component ...]`."""

from __future__ import annotations

import argparse
import sys
import time

from tests.testenv import paths
from tests.testenv.procs import TestenvError


def status() -> int:
    from tests.testenv.state import load

    state = load()
    if not state.components:
        print("testenv: nothing running")
        return 1
    for name, component in state.components.items():
        print(f"{name} (started by {component.origin})")
        for proc, record in component.procs.items():
            pid = record.running.pid if record.running else "-"
            print(f"  {proc:<26} pid {pid!s:<8} {'up' if record.alive() else 'DOWN'}")
    print(f"env: {paths.ENV_FILE}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.testenv")
    parser.add_argument("command", choices=["install", "up", "down", "status"])
    parser.add_argument("components", nargs="*", help="kube, git, registry, postgres (default all)")
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            from tests.testenv.install import install

            install()
        elif args.command == "up":
            from tests.testenv import stack

            started = time.monotonic()
            stack.ensure(args.components or stack.ALL, origin="up")
            print(f"testenv: up in {time.monotonic() - started:.1f}s; `source {paths.ENV_FILE}`")
        elif args.command == "down":
            from tests.testenv import stack

            stopped = stack.down(args.components or None)
            print(f"testenv: stopped {', '.join(stopped) or 'nothing'}")
        else:
            return status()
    except TestenvError as exc:
        print(f"testenv: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
