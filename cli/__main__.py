"""`python -m cli run SPACE`, as the `sweep` command."""

import sys

from cli.commands import main

sys.exit(main())
