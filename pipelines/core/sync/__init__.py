"""The one sync engine: plan, guard, send units, finish (see `engine`)."""
