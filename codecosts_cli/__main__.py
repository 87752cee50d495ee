import sys

from codecosts_cli.main import main

sys.exit(main())
