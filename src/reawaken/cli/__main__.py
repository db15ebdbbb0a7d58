"""``python -m reawaken.cli``: the ``reawaken`` command (:func:`reawaken.cli.main`)."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
