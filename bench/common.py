"""What the benchmarks share: a fresh PostgreSQL database, and counting SQL statements."""


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


class QueryCounter:
    """Counts the SQL statements run through Django's connection (use with connection.execute_wrapper)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)
