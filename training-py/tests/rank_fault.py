"""Test launcher: the trainer's CLI with rank 1 crashing at its third micro-batch (rank 0 keeps training), to check
that one rank's failure is reported and ends the whole run. Run it under torchrun in place of `-m ferops_trainer`."""

import os
import sys

from ferops_trainer import engine
from ferops_trainer.cli import main

if os.environ.get("RANK") == "1":
    calls = [0]
    real = engine.Trainer._micro_batch

    def crashing(self, batch, idx):
        calls[0] += 1
        if calls[0] == 3:
            raise RuntimeError("injected fault on rank 1")
        return real(self, batch, idx)

    engine.Trainer._micro_batch = crashing

sys.exit(main(sys.argv[1:]))
