#!/usr/bin/env python3
"""A TCP proxy in front of a cluster node: a port of its own (which a partition's
packet filter can drop) and, optionally, distance.

    tcpproxy.py LISTEN_PORT TARGET_PORT [--delay-ms N] [--pidfile F]

--delay-ms holds every chunk N ms in each direction (a round trip of 2N ms: two
"regions"; `tc netem` is not available here). Standard library only: it runs with
the system python3.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time


class Proxy:
    def __init__(self, target_port: int, delay: float):
        self.target_port = target_port
        self.delay = delay

    async def handle(self, client_reader, client_writer) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(self.pipe(client_reader, server_writer), self.pipe(server_reader, client_writer))
        for writer in (client_writer, server_writer):
            writer.close()

    async def pipe(self, reader, writer) -> None:
        queue: asyncio.Queue = asyncio.Queue()

        async def deliver() -> None:
            while (item := await queue.get()) is not None:
                due, data = item
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(deliver())
        try:
            while data := await reader.read(65536):
                queue.put_nowait((time.monotonic() + self.delay, data))
        except (ConnectionError, OSError):
            pass
        finally:
            queue.put_nowait(None)
            try:
                await sender
            except (ConnectionError, OSError):
                pass
            if writer.can_write_eof():
                try:
                    writer.write_eof()
                except OSError:
                    pass

async def main() -> None:
    parser = argparse.ArgumentParser(description="TCP proxy with an optional delay")
    parser.add_argument("listen_port", type=int)
    parser.add_argument("target_port", type=int)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--pidfile")
    args = parser.parse_args()
    proxy = Proxy(args.target_port, args.delay_ms / 1000)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", args.listen_port)
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write(str(os.getpid()))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
