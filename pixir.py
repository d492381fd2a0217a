#!/usr/bin/env python3
"""Run pixir straight from a checkout: `python3 pixir.py --version`."""

import sys

from pixir.cli import main

if __name__ == "__main__":
    sys.exit(main())
