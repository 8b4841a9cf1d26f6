"""``python -m mfderive.publish``: see :mod:`mfderive.publish.book`."""

import sys

from .book import main

sys.exit(main(sys.argv[1:]))
