"""`make bench`: mediaflow's engines against the tools users would pick instead, in one run."""
