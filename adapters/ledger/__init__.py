"""The SQL ledger: tables, the unit of work, migrations, the outbox, replay and sealing."""
