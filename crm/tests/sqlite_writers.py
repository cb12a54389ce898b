"""Run by crm/tests/test_settings.py in a subprocess: two threads write to one
file-based SQLite database at the same moment, through Django configured by
crm.settings from DATABASE_URL. Prints "ok" or the error of the first failure.

    python -m crm.tests.sqlite_writers [immediate|deferred]

"deferred" drops the configured transaction_mode, to show what it prevents."""

import os
import sys
import threading
import time

import django


def main(mode: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    django.setup()
    from django.conf import settings
    from django.db import connection, connections, transaction

    if mode == "deferred":
        settings.DATABASES["default"]["OPTIONS"].pop("transaction_mode", None)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS ledger (id INTEGER PRIMARY KEY, amount INTEGER)")
    connection.close()

    start = threading.Barrier(2)
    errors = []

    def writer(amount):
        try:
            start.wait()
            # read, think, then write: the usual shape of a service
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM ledger")
                time.sleep(0.3)
                cursor.execute("INSERT INTO ledger (amount) VALUES (%s)", [amount])
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ledger")
        rows = cursor.fetchone()[0]
    print(f"error: {errors[0]}" if errors else f"ok {rows}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "immediate")
