"""System benchmark: our numbers next to the ceilings of the same machine, in one run."""
