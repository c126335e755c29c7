"""Turning parsed options into a serving process: the start-up steps, one module each.

:mod:`startup` runs them in order; :mod:`listeners`, :mod:`daemon`, :mod:`privileges`,
:mod:`logfile`, :mod:`pidfile`, :mod:`limits` and :mod:`systemd` each do one of them.
"""
