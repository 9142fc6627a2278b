"""``python tests/slow_save.py ARGS``: ``pinnlite ARGS`` whose every file write takes 0.3 s longer.

The signal tests use it so that a second signal reliably arrives while a checkpoint is
being written (a real save of a small run takes milliseconds). The pause is taken after
the first bytes of each file, so a temporary file exists while it lasts.
"""

import sys
import time

from pinnlite.cli import main
from pinnlite.io import atomic

_write_file = atomic.write_file


def slow_write_file(path, fill, **flags):
    def slow_fill(write, sync):
        first = [True]

        def slow_write(data):
            write(data)
            if first[0]:
                first[0] = False
                time.sleep(0.3)

        return fill(slow_write, sync)

    return _write_file(path, slow_fill, **flags)


atomic.write_file = slow_write_file
sys.exit(main(sys.argv[1:]))
