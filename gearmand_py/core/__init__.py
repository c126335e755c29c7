"""The processing thread's world: job tables and the handlers that change them; no sockets."""
