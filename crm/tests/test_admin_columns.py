"""crm.admin_columns: what a list cell shows at laptop width, and its tooltip."""

from datetime import UTC, date, datetime

from crm.admin_columns import short_date, short_time, truncated, truncated_lines
from crm.formatting import date_short, when_short

TODAY = date(2026, 12, 6)


def test_a_time_this_year_drops_the_year_and_seconds_and_is_local():
    at = datetime(2026, 12, 6, 6, 43, 59, tzinfo=UTC)  # 14:43 in Shanghai
    assert when_short(at, today=TODAY) == "12-06 14:43"


def test_a_time_in_another_year_shows_its_date():
    assert when_short(datetime(2025, 6, 7, 1, 0, tzinfo=UTC), today=TODAY) == "2025-06-07"
    assert date_short(date(2025, 12, 6), today=TODAY) == "2025-12-06"
    assert date_short(date(2026, 1, 2), today=TODAY) == "01-02"


def test_cells_carry_the_whole_value_in_their_tooltip_and_escape_it():
    at = datetime(2026, 12, 6, 6, 43, tzinfo=UTC)
    assert 'title="2026-12-06 14:43"' in short_time(at)
    assert 'title="2026-12-06"' in short_date(date(2026, 12, 6))
    cell = truncated('<b>"VIP"</b>  needs   a call')
    assert 'title="&lt;b&gt;&quot;VIP&quot;&lt;/b&gt; needs a call"' in cell and "<b>" not in cell
    lines = truncated_lines(["消费下降", "近期未登录"])
    assert 'title="消费下降\n近期未登录"' in lines and lines.count('class="crm-trunc"') == 2
    assert (short_time(None), short_date(None), truncated(""), truncated_lines([])) == ("-", "-", "-", "-")
