"""The demo: debtors for the simulator (debtors.csv) and a generated 90-day history
(history.py) that gives the results dashboard something to show."""
