"""`python -m psoas_break` runs the command line."""

from psoas_break.cli import main

raise SystemExit(main())
