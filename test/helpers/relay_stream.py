#!/usr/bin/env python3
"""The child behind uvproc-relay in test/test_relay.py: on its channel socket (fd 3,
NODE_CHANNEL_FD) it reads everything until EOF and, at the same time, writes SIZE bytes of
relay_stream's pattern, then shuts its writing side. It ends by printing
"got LENGTH SHA1" on stdout (the relay's stderr) for what it read.

    relay_stream.py SIZE"""
import hashlib
import os
import socket
import sys
import threading


def pattern(size):
    """SIZE bytes: 1 MiB of seeded bytes, block i rotated by i, so a lost, doubled or
    swapped block changes the hash."""
    import random
    base = random.Random(16).randbytes(1 << 20)
    sent = 0
    i = 0
    while sent < size:
        r = (i * 4099) % len(base)
        block = base[r:] + base[:r]
        block = block[: size - sent]
        yield block
        sent += len(block)
        i += 1


def main():
    size = int(sys.argv[1])
    sock = socket.socket(fileno=int(os.environ["NODE_CHANNEL_FD"]))
    sock.setblocking(True)
    got = {"len": 0, "sha": hashlib.sha1()}

    def reader():
        while True:
            b = sock.recv(1 << 18)
            if not b:
                return
            got["len"] += len(b)
            got["sha"].update(b)

    t = threading.Thread(target=reader)
    t.start()
    for block in pattern(size):
        sock.sendall(block)
    sock.shutdown(socket.SHUT_WR)
    t.join()
    print(f"got {got['len']} {got['sha'].hexdigest()}", flush=True)


if __name__ == "__main__":
    main()
