"""``python -m gearmand_py`` runs the server exactly as the ``gearmand-py`` script does."""

from gearmand_py.cli import main

raise SystemExit(main())
