"""`python -m seqgen ...` is the `seqgen` command (and what `torchrun ... -m seqgen train ...` runs)."""

import sys

from seqgen.cli import main

sys.exit(main())
