"""The staff consoles (agents and admins) inside the Flask app."""
