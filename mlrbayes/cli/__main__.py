"""``python -m mlrbayes.cli``: the same as the ``mlrbayes`` command."""

import sys

from . import main

sys.exit(main())
