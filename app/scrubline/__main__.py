"""`python -m scrubline`: the same as the `scrubline` command, for when the script's folder is not
on PATH (a `pip install --user` without ~/.local/bin, a Windows store Python)."""

from __future__ import annotations

import sys

from scrubline.cli import main

if __name__ == "__main__":
    sys.exit(main())
