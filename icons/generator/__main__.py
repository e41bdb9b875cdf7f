"""`python -m icons.generator [--out DIR] [--check]`: see `icons.generator.generate`."""

import sys

from .generate import main

sys.exit(main())
