"""A TCP proxy between a site's leaf and the hub, as its own process, that cuts the link on
demand: SIGUSR1 drops every connection and refuses new ones, SIGUSR2 lets them through again.

`python tests/support/tcp_proxy.py LISTEN_PORT TARGET_PORT` (both on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import signal
import sys


class Proxy:
    def __init__(self, target: int) -> None:
        self.target = target
        self.up = True
        self.writers: set[asyncio.StreamWriter] = set()

    def cut(self) -> None:
        self.up = False
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    def restore(self) -> None:
        self.up = True

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target
            )
        except OSError:
            writer.transport.abort()
            return
        pair = {writer, upstream_writer}
        self.writers |= pair

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pump(reader, upstream_writer), pump(upstream_reader, writer))
        self.writers -= pair


async def main(listen: int, target: int) -> None:
    proxy = Proxy(target)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, proxy.cut)
    loop.add_signal_handler(signal.SIGUSR2, proxy.restore)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", listen)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
