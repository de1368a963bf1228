#!/usr/bin/env python3
"""HTTP servers with known behaviour for test/test_loadtest_accuracy.py and test_loadtest.py:
each listens on a free port of 127.0.0.1, prints "listening PORT", and on SIGTERM prints what
it saw as one JSON line and exits.

    loadtest_servers.py delay D_MS K LONG_MS   every request answered after exactly D ms,
                                               every K-th (by arrival) after LONG ms; reports
                                               how long it really held each (held_ms)
    loadtest_servers.py stall PERIOD_MS MS     hello, but the whole server blocks for MS ms
                                               every PERIOD_MS ms (a GC pause)
    loadtest_servers.py interim CODE...        each answer is preceded by these 1xx responses
    loadtest_servers.py upgrade                answers 101 Switching Protocols, then non-HTTP
    loadtest_servers.py record                 hello; keeps the first request whole
    loadtest_servers.py tls CERT KEY [close]   HTTPS hello (with "close": Connection: close on
                                               every answer); counts SNI names and resumed
                                               sessions
"""
import asyncio
import json
import signal
import ssl
import sys
import time

HELLO = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nHello World\n"

mode = sys.argv[1]
args = sys.argv[2:]
seen = {"requests": 0, "connections": 0, "sni": [], "resumed": 0, "delays_ms": {}, "held_ms": []}


async def read_request(reader):
    """One request (headers and a Content-Length body); None at the end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        body = b""
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError,
            ssl.SSLError):
        return None
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        body = await reader.readexactly(length)
    return head + body


async def serve(reader, writer):
    seen["connections"] += 1
    sslobj = writer.get_extra_info("ssl_object")
    if sslobj is not None and sslobj.session_reused:
        seen["resumed"] += 1
    try:
        while True:
            req = await read_request(reader)
            if req is None:
                break
            seen["requests"] += 1
            if mode == "record" and "first" not in seen:
                seen["first"] = req.decode("latin-1")
            n = seen["requests"]
            if mode == "delay":
                d = float(args[2]) if n % int(args[1]) == 0 else float(args[0])
                key = str(d)
                seen["delays_ms"][key] = seen["delays_ms"].get(key, 0) + 1
                t0 = time.monotonic()
                await asyncio.sleep(d / 1000.0)
                writer.write(HELLO)
                # What the server really held the request for: its own delays on a busy
                # machine (a late wake-up) are part of the truth the client must see.
                seen["held_ms"].append((time.monotonic() - t0) * 1000.0)
            elif mode == "interim":
                for code in args:
                    writer.write(b"HTTP/1.1 %s Interim\r\nLink: </a.css>; rel=preload\r\n\r\n"
                                 % code.encode())
                writer.write(HELLO)
            elif mode == "upgrade":
                writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             b"Connection: Upgrade\r\n\r\n\x81\x05hello")
            elif mode == "tls" and args[2:] == ["close"]:
                writer.write(HELLO.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1))
                await writer.drain()
                break
            else:
                writer.write(HELLO)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, asyncio.CancelledError):
        pass  # the peer went, or the server stops
    finally:
        try:
            writer.close()
        except Exception:  # noqa: BLE001 - the peer may be gone already
            pass


async def stall_loop(period, ms):
    while True:
        await asyncio.sleep(period / 1000.0)
        time.sleep(ms / 1000.0)  # blocks the whole loop: nothing is read or answered


async def main():
    ctx = None
    if mode == "tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args[0], args[1])
        ctx.sni_callback = lambda obj, name, c: seen["sni"].append(name) and None
    stop = asyncio.Event()
    # Before "listening": a SIGTERM right after it must find its handler.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=ctx, backlog=1024)
    if mode == "stall":
        asyncio.get_running_loop().create_task(stall_loop(float(args[0]), float(args[1])))
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    await stop.wait()
    seen["sni"] = sorted(set(seen["sni"]))
    print(json.dumps(seen), flush=True)


asyncio.run(main())
