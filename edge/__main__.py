"""Run the edge command line."""

import sys

from edge import stop_request

stop_request.catch_early()  # before the heavy imports below: a stop while starting is kept

from edge.cli import main  # noqa: E402

sys.exit(main())
