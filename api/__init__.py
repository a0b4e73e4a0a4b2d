"""The HTTP API (Flask app factory, OGC API Features, REST endpoints) and the CLI."""
