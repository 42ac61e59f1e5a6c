"""Orders: client ids, journal-first submission, and reconciliation with the venue."""
