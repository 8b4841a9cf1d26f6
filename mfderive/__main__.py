"""``python -m mfderive …``: the ``mfderive`` command (:mod:`mfderive.cli`)."""

import sys

from .cli import main

sys.exit(main())
