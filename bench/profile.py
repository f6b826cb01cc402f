"""Profile one `medic serve` worker process under wrk load with py-spy.

    .venv/bin/python -m bench.profile [--connections 64] [--seconds 10] [--out /tmp/medic-profile.txt]

Prints the top functions by own and cumulative samples (py-spy --format raw, folded stacks).
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import threading
from datetime import datetime, timezone

from bench import common, seed
from bench.ingest import MEDIC_DB, SERVICES


def summarise(folded_path: str, top: int = 40) -> str:
    own: collections.Counter = collections.Counter()
    total: collections.Counter = collections.Counter()
    samples = 0
    for line in open(folded_path):
        stack, _, n = line.rstrip().rpartition(" ")
        n = int(n)
        samples += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    lines = [f"{samples} samples", "-- own --"]
    lines += [f"{100 * n / samples:5.1f}% {f}" for f, n in own.most_common(top)]
    lines += ["-- cumulative --"]
    lines += [f"{100 * n / samples:5.1f}% {f}" for f, n in total.most_common(top)]
    return "\n".join(lines)


def record(*, connections: int = 64, seconds: int = 10, out: str = "/tmp/medic-profile.folded",
           gil: bool = True, idle: bool = False) -> str:
    """Seed medic_bench, serve it, load it with wrk and record one worker process with py-spy."""
    url = common.recreate_database(MEDIC_DB)
    seed.migrate(url)
    seed.seed_services(url, SERVICES, datetime.now(timezone.utc))
    server = common.start_medic_serve(url)
    with common.running(server):
        common.wrk(server.url, connections=16, seconds=2)
        load = threading.Thread(
            target=common.wrk, args=(server.url,), kwargs={"connections": connections, "seconds": seconds + 4}
        )
        load.start()
        pid = server.children()[0]
        argv = [str(common.VENV_BIN / "py-spy"), "record", "--pid", str(pid), "--duration", str(seconds),
                "--format", "raw", "--output", out, "--rate", "200", "--nonblocking"]
        argv += (["--idle"] if idle else []) + (["--gil"] if gil else [])
        subprocess.run(argv, check=True, capture_output=True)
        load.join()
    return out


def run(*, connections: int = 64, seconds: int = 15) -> dict:
    """The `profile` part of `python -m bench`: where one web process's CPU goes (GIL-holding samples)."""
    from bench.profile_groups import group

    path = record(connections=connections, seconds=seconds)
    return {"connections": connections, "seconds": seconds, "groups": group(path), "top": summarise(path, 25)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--out", default="/tmp/medic-profile.folded")
    parser.add_argument("--idle", action="store_true", help="include idle threads")
    parser.add_argument("--gil", action="store_true", help="only threads holding the GIL (CPU in Python)")
    args = parser.parse_args()
    path = record(connections=args.connections, seconds=args.seconds, out=args.out, gil=args.gil, idle=args.idle)
    print(summarise(path))


if __name__ == "__main__":
    main()
