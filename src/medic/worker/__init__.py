"""The background side: evaluation loop, outbox dispatcher, cleanup scheduling."""
