"""What the benchmarks share: a fresh PostgreSQL database, and counting SQL statements."""

# The counter the HTTP metrics use; importing it needs no settings.
from apps.monitoring.http import StatementCounter as QueryCounter  # noqa: F401 - the benchmarks import it here


def fresh_django() -> None:
    """Set Django up on a freshly made benchmark database; stop unless DATABASE_URL names PostgreSQL."""
    import os
    import sys

    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database the benchmark may drop and recreate")
    import django

    django.setup()
    recreate_database()


def recreate_database() -> None:
    """Drop and create the benchmark database (DATABASE_URL), then migrate it."""
    import psycopg2
    from django.conf import settings
    from django.core.management import call_command

    params = settings.DATABASES["default"]
    admin = psycopg2.connect(
        dbname="postgres", user=params["USER"], password=params["PASSWORD"], host=params["HOST"], port=params["PORT"]
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{params["NAME"]}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{params["NAME"]}"')
    admin.close()
    call_command("migrate", verbosity=0)
