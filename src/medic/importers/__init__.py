"""Importers (docs/migrating.md): services from the tools teams come from.

Each module parses its source into ``Entry`` values with no I/O; the `medic import`
commands (medic.cli.imports) bring them to Medic. The crontab, CronJob and
Healthchecks importers go through the configuration-as-code plan
(medic.declarative), so they share its --dry-run, its diff and its idempotence;
the original Medic's importer writes to the database (medic.store.original_import).
"""
