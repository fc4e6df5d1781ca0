"""``python -m fastglorot``: the command line (see ``fastglorot --help``)."""

import sys

from ._cli import main

sys.exit(main())
