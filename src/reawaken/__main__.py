"""``python -m reawaken``: the ``reawaken`` command (:func:`reawaken.cli.main`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
