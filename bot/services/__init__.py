"""Domain services: plain functions over a SQLAlchemy session. Callers commit."""
