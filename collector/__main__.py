import sys

from spanhouse.collector.cli import main

sys.exit(main())
