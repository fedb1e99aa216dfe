"""The SQL tests' databases (SQLite files and a real PostgreSQL) for the orders tests too."""

from sql.conftest import db, pg_admin, pg_database  # noqa: F401 (fixtures)
