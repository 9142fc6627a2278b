import sys

from pinnlite.cli import main

sys.exit(main())
