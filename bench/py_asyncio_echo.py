#!/usr/bin/env python3
"""A minimal asyncio echo server (stdlib only), for bench/compare.

    py_asyncio_echo.py [PORT]

Listens on 127.0.0.1:PORT (0, the default: any free port), prints
"Listening on 127.0.0.1:PORT" on stderr when ready, and echoes with the low-level
Protocol API (data_received -> transport.write), the fastest pure-asyncio echo, with
transport flow control: reading pauses while the write buffer is above its high-water mark.
"""
import asyncio
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()


async def main(port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", port, reuse_address=True, backlog=4096)
    print("Listening on 127.0.0.1:%d" % server.sockets[0].getsockname()[1],
          file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    except KeyboardInterrupt:
        pass
