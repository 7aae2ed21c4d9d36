"""IGI's PostgreSQL database: engines (URL or embedded server), migrations, staging load, provisioning queue."""

from connectors.igi.database import EmbeddedPostgres, create_engine
from connectors.igi.migrations import MigrationError, upgrade

__all__ = ["EmbeddedPostgres", "MigrationError", "create_engine", "upgrade"]
