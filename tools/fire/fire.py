"""The fault harness: runs each fault against the real `tallystick` and prints one line per
fault and a final `N passed, N failed` line (see RELIABILITY.md).

    tools/fire/run                 # every fault, long versions (20 crash rounds, ...)
    tools/fire/run --short         # the quick versions that tools/test runs
    tools/fire/run crash disk-full # some faults only
"""

import sys

import bad_input
import checkpoints
import crash
import files
import lifecycle
import power_cut
import slow_clients
import security
import shared_store
import tan
from firelib import main

FAULTS = {
    "crash": crash.run,
    "checkpoint-kill": checkpoints.run,
    "sigterm": lifecycle.sigterm,
    "disk-full": lifecycle.disk_full,
    "map-full": lifecycle.map_full,
    "format": lifecycle.old_format,
    "second-server": lifecycle.second_server,
    "bad-input": bad_input.run_corpus,
    "schemathesis": bad_input.schemathesis,
    "tan": tan.run,
    "slow-clients": slow_clients.run,
    "files": files.run,
    "power-cut": power_cut.run,
    "security": security.run,
    "postgres-restart": shared_store.restart,
    "postgres-kill-one": shared_store.kill_one,
}

if __name__ == "__main__":
    sys.exit(main(FAULTS, sys.argv[1:]))
