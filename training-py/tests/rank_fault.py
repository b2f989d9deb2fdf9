"""Test launcher: the trainer's CLI with rank 1 crashing at its third micro-batch (rank 0 keeps training), to check
that one rank's failure is reported and ends the whole run. Run it under torchrun in place of `-m ferops_trainer`.
Rank 1 reports its crash late, as on a loaded machine: its report must still come before rank 0's lost connection."""

import os
import sys
import time
import traceback

from ferops_trainer import engine
from ferops_trainer.cli import main

if os.environ.get("RANK") == "1":
    calls = [0]
    real = engine.Trainer._micro_batch
    print_exc = traceback.print_exc

    def crashing(self, batch, idx):
        calls[0] += 1
        if calls[0] == 3:
            raise RuntimeError("injected fault on rank 1")
        return real(self, batch, idx)

    def late_print_exc(*args, **kwargs):  # the CLI prints the traceback just before it emits the error event
        time.sleep(2)
        print_exc(*args, **kwargs)

    engine.Trainer._micro_batch = crashing
    traceback.print_exc = late_print_exc

sys.exit(main(sys.argv[1:]))
