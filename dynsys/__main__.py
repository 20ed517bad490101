"""``python -m dynsys`` runs the command line."""

from dynsys.cli import main

raise SystemExit(main())
