"""Staff are named one way everywhere (crm.names): Chinese family name first, no space."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from crm.names import person_name, staff_name, staff_name_sql


@pytest.mark.parametrize(
    ("first", "last", "username", "shown"),
    [
        ("娜", "李", "lina", "李娜"),
        (" 小明 ", "欧阳", "xm", "欧阳小明"),
        ("娜", "", "lina", "娜"),
        ("", "李", "lina", "李"),
        ("Anna", "Smith", "anna", "Anna Smith"),
        ("Anna", "", "anna", "Anna"),
        ("", "", "ops", "ops"),
        ("  ", " ", "ops", "ops"),
    ],
)
def test_person_name(first, last, username, shown):
    assert person_name(first=first, last=last, username=username) == shown


def test_a_user_reads_as_their_name_in_every_picker_and_column(db):
    li = get_user_model().objects.create_user(username="lina", first_name="娜", last_name="李")
    bare = get_user_model().objects.create_user(username="ops")
    assert (str(li), li.get_full_name(), staff_name(li)) == ("李娜", "李娜", "李娜")
    assert str(bare) == "ops" and staff_name(None) == ""


def test_the_sql_twin_names_as_python_does(db, requires_postgres):
    User = get_user_model()
    people = [
        User.objects.create_user(username="lina", first_name="娜", last_name="李"),
        User.objects.create_user(username="oy", first_name=" 小明", last_name="欧阳 "),
        User.objects.create_user(username="anna", first_name="Anna", last_name="Smith"),
        User.objects.create_user(username="ann2", first_name="", last_name="Smith"),
        User.objects.create_user(username="ops"),
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT u.id, {staff_name_sql('u')} FROM {User._meta.db_table} u WHERE u.id = ANY(%s)",
            [[p.pk for p in people]],
        )
        from_sql = dict(cursor.fetchall())
        cursor.execute(f"SELECT {staff_name_sql('u')} FROM (SELECT 1) x LEFT JOIN {User._meta.db_table} u ON false")
        nobody = cursor.fetchone()[0]
    assert from_sql == {p.pk: staff_name(p) for p in people}
    assert nobody == ""
