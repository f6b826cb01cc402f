"""API keys and scopes: who may call which part of the HTTP API."""
