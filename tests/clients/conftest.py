"""Fixtures the real-client modules share: the PHP and Perl interpreters with their Gearman
libraries (test_php.py, test_perl.py, and the cross tests in test_gearmand_py_client.py)."""

from __future__ import annotations

import pytest

from ._util import require, require_executable, run


@pytest.fixture(scope="module")
def php_bin() -> str:
    """Path of a php CLI that has the gearman extension loaded."""
    php = require_executable("php", "apt-get install php-cli php-gearman")
    modules = run([php, "-m"]).stdout.split()
    require("gearman" in modules, "php has no gearman extension (apt-get install php-gearman)")
    return php


@pytest.fixture(scope="module")
def perl_bin() -> str:
    """Path of a perl that can load Gearman::Client and Gearman::Worker."""
    perl = require_executable("perl", "apt-get install perl")
    probe = run([perl, "-MGearman::Client", "-MGearman::Worker", "-MJSON::PP", "-e", "1"],
                check=False)
    require(probe.returncode == 0,
            f"Perl Gearman modules missing (apt-get install libgearman-client-perl): {probe.stderr}")
    return perl
