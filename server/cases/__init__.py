"""Readroom server: cases (intake, validation, state machine, payment, referral, assignment)."""
