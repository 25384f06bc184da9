"""`python -m seqgen ...` is the `seqgen` command (also what torchrun runs: `torchrun ... -m seqgen train ...`)."""

import sys

from seqgen.cli import main

sys.exit(main())
