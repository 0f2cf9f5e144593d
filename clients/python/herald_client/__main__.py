import sys

from herald_client.cli import main

sys.exit(main())
