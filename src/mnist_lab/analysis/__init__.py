"""The maths behind reports and probes: tables, report figures, loss planes, dead units, kNN."""
