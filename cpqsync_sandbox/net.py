"""Loopback port allocation for the local stack and tests."""

from __future__ import annotations

import random
import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago; the caller binds it straight away."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


# Below Linux's default ephemeral range (32768-60999): the kernel hands those ports to every
# outgoing connection (a Kafka client's, an HTTP client's), so a block picked there can be
# taken between the pick and the bind; a block below it is only taken by someone binding it.
_BLOCK_RANGE = (20000, 32000)


def free_port_block(count: int, host: str = "127.0.0.1") -> int:
    """The first of ``count`` consecutive ports that were all free a moment ago, outside the
    ephemeral range (for ``cpqsync run``, whose role i serves on ``metrics.port + i``)."""
    low, high = _BLOCK_RANGE
    for _ in range(200):
        base = random.randrange(low, high - count)
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.bind((host, port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no {count} consecutive free ports between {low} and {high}")
