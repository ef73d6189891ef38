"""The vendors' cadence rules and the ledger that enforces them across runs and processes."""
