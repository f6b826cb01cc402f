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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--out", default="/tmp/medic-profile.folded")
    parser.add_argument("--idle", action="store_true", help="include idle threads")
    parser.add_argument("--gil", action="store_true", help="only threads holding the GIL (CPU in Python)")
    args = parser.parse_args()
    url = common.recreate_database(MEDIC_DB)
    seed.migrate(url)
    seed.seed_services(url, SERVICES, datetime.now(timezone.utc))
    server = common.start_medic_serve(url)
    with common.running(server):
        common.wrk(server.url, connections=16, seconds=2)
        load = threading.Thread(
            target=common.wrk, args=(server.url,), kwargs={"connections": args.connections, "seconds": args.seconds + 4}
        )
        load.start()
        pid = server.children()[0]
        argv = ["py-spy", "record", "--pid", str(pid), "--duration", str(args.seconds), "--format", "raw",
                "--output", args.out, "--rate", "200", "--nonblocking"]
        if args.idle:
            argv.append("--idle")
        if args.gil:
            argv.append("--gil")
        subprocess.run([str(common.VENV_BIN / argv[0]), *argv[1:]], check=True, capture_output=True)
        load.join()
    print(summarise(args.out))


if __name__ == "__main__":
    main()
