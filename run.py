#!/usr/bin/env python3
"""qkfeed command line.  ``python run.py --help`` lists the commands."""

import sys

from scraper.cli import main

if __name__ == "__main__":
    sys.exit(main())
