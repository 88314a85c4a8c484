"""The maths behind reports and probes: tables, loss planes, dead units, kNN."""
