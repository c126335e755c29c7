"""Differential tests: the same client scenarios against Debian's gearmand and gearmand-py."""
