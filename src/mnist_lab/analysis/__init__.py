"""The maths behind reports and probes: tables, report figures, loss planes, dead units, kNN,
a classifier's errors and calibration."""
