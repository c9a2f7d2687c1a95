"""Champion/challenger tests: variants of a reminder's template key (text, tone, send hour,
offer) or of a segment's cadence, each with a share of the traffic. Debtors are assigned by a
stable hash and keep their variant (assignment.py); admins define, stop and promote them
(variants.py). Reminder planning asks `Assigner` what a debtor gets: that is the only seam."""
