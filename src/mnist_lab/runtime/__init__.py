"""Plumbing every command shares: command-line checks, config rules, the run directory, resume."""
