"""A Docker API socket that lowers the API version in request paths, for clients that do not
negotiate it (the `testcontainers` crate 0.28 asks for /v1.53/ always) in front of an engine that
refuses newer versions than its own (Debian's Engine 20.10 speaks up to 1.41).

    python3 api_version_proxy.py LISTEN_SOCKET UPSTREAM_SOCKET VERSION

Only the request line's `/v1.NN/` prefix changes; headers and bodies pass through as they are,
and an upgraded connection (attach, exec) becomes a plain pipe. tests/docker/run.sh starts it for
the Rust module's test when the engine's API is older than the crate's; nothing else uses it.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys

VERSION_IN_PATH = re.compile(rb"^([A-Z]+ )/v\d+\.\d+/")


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass


async def forward_body(head: bytes, client: asyncio.StreamReader, upstream: asyncio.StreamWriter) -> None:
    headers = head.lower()
    length = re.search(rb"\r\ncontent-length:\s*(\d+)", headers)
    if length:
        upstream.write(await client.readexactly(int(length.group(1))))
    elif re.search(rb"\r\ntransfer-encoding:\s*chunked", headers):
        while True:
            size_line = await client.readuntil(b"\r\n")
            upstream.write(size_line)
            size = int(size_line.split(b";")[0].strip(), 16)
            upstream.write(await client.readexactly(size + 2))
            if size == 0:
                break


async def handle(client_reader, client_writer, upstream_path: str, version: bytes) -> None:
    upstream_reader, upstream_writer = await asyncio.open_unix_connection(upstream_path)
    responses = asyncio.create_task(pipe(upstream_reader, client_writer))
    try:
        while True:
            head = await client_reader.readuntil(b"\r\n\r\n")
            head = VERSION_IN_PATH.sub(rb"\1/v" + version + b"/", head, count=1)
            upstream_writer.write(head)
            if re.search(rb"\r\nupgrade:", head.lower()):
                await upstream_writer.drain()
                await pipe(client_reader, upstream_writer)
                break
            await forward_body(head, client_reader, upstream_writer)
            await upstream_writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        try:
            upstream_writer.write_eof()
        except (OSError, RuntimeError):
            pass
        await responses
        client_writer.close()


async def main(listen: str, upstream: str, version: str) -> None:
    if os.path.exists(listen):
        os.unlink(listen)
    server = await asyncio.start_unix_server(
        lambda r, w: handle(r, w, upstream, version.encode()), path=listen, limit=1 << 20
    )
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
