"""Domain rules, free of I/O: no Flask, no SQLAlchemy, no HTTP, no clock reads."""
