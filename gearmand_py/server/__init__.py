"""Threads and sockets: the listener, the I/O loops and the processing thread."""

from gearmand_py.server.server import Hooks, Server

__all__ = ["Hooks", "Server"]
