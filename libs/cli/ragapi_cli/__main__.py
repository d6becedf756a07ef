"""``python -m ragapi_cli``: the same as the ``ragapi`` console script."""

import sys

from ragapi_cli.main import main

sys.exit(main())
