"""The ``pinnlite`` command line (:mod:`pinnlite.cli.main`).

- :mod:`~pinnlite.cli.main`: the parser, :func:`main`, exit statuses, logging;
- :mod:`~pinnlite.cli.run`: ``demo``, ``train``, ``resume`` (run directories, summaries);
- :mod:`~pinnlite.cli.files`: ``inspect``, ``verify``, ``export``, ``config``, ``plot``, ``example``.
"""

from pinnlite.cli.main import build_parser, main
from pinnlite.cli.run import DEMO_TRUTH, demo_config

__all__ = ["DEMO_TRUTH", "build_parser", "demo_config", "main"]
