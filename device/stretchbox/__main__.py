"""``python -m stretchbox`` is the ``stretchbox`` command."""

from .cli import main

raise SystemExit(main())
