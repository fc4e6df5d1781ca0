"""``python -m fastglorot._cli``: the command line, as ``python -m fastglorot``."""

import sys

from . import main

sys.exit(main())
