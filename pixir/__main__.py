import sys

from pixir.cli import main

sys.exit(main())
