"""gearmand-py: a Gearman job server that real gearmand clients cannot tell apart from gearmand."""

__version__ = "0.1.0"

#: The gearmand release whose behaviour this server reproduces.
COMPATIBLE_VERSION = "1.1.20"
