"""Time worker cycles in a fresh process: `python -m bench.cycle [--cycles N] [--deliver] [--evaluate-first]`.

Reads the same environment as `medic worker`. Prints one BENCH_JSON line: the duration
of each `Worker.run_once()` (the first one includes connecting), what it did, and the
process's peak RSS. With --deliver, keeps delivering until the outbox is empty and
reports how long that took.
"""

from __future__ import annotations

import argparse
import json
import time

from medic.config import load_settings
from medic.store.engine import make_engine
from medic.worker.loop import Worker


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=2)
    parser.add_argument("--deliver", action="store_true")
    parser.add_argument("--evaluate-first", action="store_true",
                        help="time one evaluate() alone before the cycles (a mass outage's transitions)")
    args = parser.parse_args()
    settings = load_settings()
    engine = make_engine(settings.database_url)
    worker = Worker(settings, engine)
    out: dict = {"cycles": []}
    if args.evaluate_first:
        started = time.perf_counter()
        result = worker.evaluate()
        out["evaluate"] = {"seconds": time.perf_counter() - started, "opened": len(result.opened)}
    for _ in range(args.cycles):
        started = time.perf_counter()
        result = worker.run_once()
        out["cycles"].append(
            {
                "seconds": time.perf_counter() - started,
                "opened": len(result.opened),
                "closed": len(result.closed),
                "unmuted": result.unmuted,
            }
        )
    if args.deliver:
        started = time.perf_counter()
        sent = 0
        while True:
            attempted = worker.deliver()
            sent += attempted
            if not attempted:
                break
        out["deliver_seconds"] = time.perf_counter() - started
        out["delivered_attempts"] = sent
    worker.close()
    engine.dispose()
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent.
    out["max_rss_kib"] = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1])
    print("BENCH_JSON " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
