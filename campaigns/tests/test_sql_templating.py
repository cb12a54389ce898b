from datetime import date

from campaigns.sql_templating import SqlValue, sql_template

TODAY = date(2026, 11, 22)


def render(text, **extra):
    return sql_template(text, today=TODAY, zone="Asia/Shanghai", extra=extra)


def test_texts_that_need_python_have_no_sql_twin():
    assert render("{total_spend:,.2f}") is None  # a format spec
    assert render("{nickname!r}") is None  # a conversion
    assert render("{birthdate}") is None  # an unknown variable
    assert render("{nickname") is None  # broken braces: the Python path reports them


def test_extra_variables_are_literal_parameters_or_sql():
    sql, params = render(
        "{{x}} {occasion} {gift}/{days_since_login}", occasion="生日", gift=SqlValue("e.code || %s", ("!",))
    )

    assert sql.startswith("concat(" + "%s::text, " * 5 + "e.code || %s, %s::text, CASE WHEN p.last_login_at")
    assert params == ["{", "x}", " ", "生日", " ", "!", "/", TODAY, "Asia/Shanghai"]


def test_an_extra_variable_overrides_a_player_variable_and_empty_text_is_empty():
    assert render("{tier}", tier="VIP") == ("concat(%s::text)", ["VIP"])
    assert render("") == ("''", [])
