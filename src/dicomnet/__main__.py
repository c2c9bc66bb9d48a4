"""``python -m dicomnet <app> [options]``: the ``dicomnet`` command."""

from dicomnet.apps.cli import main

raise SystemExit(main())
