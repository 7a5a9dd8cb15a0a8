#!/usr/bin/env python3
"""slow_clients.py - slow-header ("slowloris") clients for tools/bench_load.sh.

    slow_clients.py PORT N SECONDS [GAP]

Keeps N connections open to 127.0.0.1:PORT for SECONDS, each sending the
bytes of one request's header section one every GAP seconds (default 1),
never finishing it. The server must cut each off at its header deadline
(408, or a close); the client then reconnects and starts over, so N stay
in flight. Prints one line: connections made, 408s read, closes without
a response, connections refused, and the longest a connection was held.
"""
import asyncio, sys, time

port, n, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
gap = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\nX-Pad: " + b"p" * 4000 + b"\r\n\r\n"
stats = {"conns": 0, "408": 0, "closed": 0, "refused": 0, "other": 0, "longest": 0.0}


async def one(end):
    while time.time() < end:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            stats["refused"] += 1
            await asyncio.sleep(gap)
            continue
        stats["conns"] += 1
        t0 = time.time()
        got = b""
        try:
            for b in HEAD:
                if time.time() >= end:
                    break
                w.write(bytes([b]))
                await w.drain()
                try:
                    got = await asyncio.wait_for(r.read(4096), gap)
                except asyncio.TimeoutError:
                    continue
                break  # the server answered or closed
        except OSError:
            pass
        held = time.time() - t0
        if time.time() < end:
            stats["longest"] = max(stats["longest"], held)
            if got.startswith(b"HTTP/1.1 408"):
                stats["408"] += 1
            elif not got:
                stats["closed"] += 1
            else:
                stats["other"] += 1
        w.close()


async def main():
    end = time.time() + seconds
    await asyncio.gather(*(one(end) for _ in range(n)))


asyncio.run(main())
print("slow clients: %d connections, %d answered 408, %d closed without an answer, %d refused, "
      "%d other answers, longest held %.1f s"
      % (stats["conns"], stats["408"], stats["closed"], stats["refused"], stats["other"], stats["longest"]))
