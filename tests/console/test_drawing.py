"""The console's own drawing of tables and drop-downs says exactly what Django's would: same escaping, same
selection, same links."""

import pytest
from django import forms
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe

from apps.console.generic import QuickSelect, Shown
from apps.console.models import Preference, forget, preference, remember
from apps.console.tables import escaped, html_of, link_to

NASTY = ["a&b", "<script>x</script>", 'say "hi"', "it's", 42, "plain"]


@pytest.mark.parametrize("value", NASTY)
def test_cells_are_escaped_as_django_escapes(value):
    assert escaped(value) == escape(value)
    assert html_of("<td>{}</td>", value) == f"<td>{escape(value)}</td>"
    assert escaped(mark_safe("<b>kept</b>")) == "<b>kept</b>"


def test_a_drop_down_selects_and_escapes_like_djangos():
    """Same options in the same order, the current value selected, labels and values escaped."""
    choices = [("", "any"), (1, "web<1>"), (2, "a & b"), ('x"y', "it's")]
    for value in ("2", None, 'x"y', "nothing"):
        ours = QuickSelect(choices=choices).render("pool", value, {"id": "id_pool"})
        theirs = forms.Select(choices=choices).render("pool", value, {"id": "id_pool"})
        assert ours == "".join(line.strip() for line in theirs.splitlines())
    assert '<option value="2" selected>a &amp; b</option>' in QuickSelect(choices=choices).render("pool", 2)


@pytest.mark.parametrize("name", ["console:host", "console:pool", "console:job", "console:cluster"])
def test_links_are_what_reverse_gives(name):
    for pk in (1, 7, 8_642_097_531, 10**12):
        assert link_to(name, pk) == reverse(name, args=[pk])


def test_a_tables_rows_are_drawn_escaped_in_one_pass():
    shown = Shown(None, [], [], None, [[mark_safe("<a>x</a>"), "<i>", "–"], ["1", 2, "&"]], ident="t")
    assert (
        shown.body()
        == "<tr><td><a>x</a></td><td>&lt;i&gt;</td><td>–</td></tr>\n<tr><td>1</td><td>2</td><td>&amp;</td></tr>\n"
    )


@pytest.mark.django_db
def test_preferences_are_read_once_per_request_and_follow_what_is_remembered(users, django_assert_num_queries):
    user = users["guest"]
    Preference.objects.create(user=user, name="table:hosts", value=["hostname"])
    with django_assert_num_queries(1):
        assert preference(user, "table:hosts") == ["hostname"]
        assert preference(user, "table:jobs", ["id"]) == ["id"]
        assert preference(user, "language") is None
    remember(user, "table:jobs", ["status"])
    forget(user, "table:hosts")
    with django_assert_num_queries(0):
        assert preference(user, "table:jobs") == ["status"] and preference(user, "table:hosts") is None
    fresh = type(user).objects.get(pk=user.pk)
    assert preference(fresh, "table:jobs") == ["status"] and preference(fresh, "table:hosts") is None


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", "America/New_York"])
def test_times_read_as_django_formats_them_in_each_language_and_zone(language, zone):
    """One formatting per second, language and zone is kept: the same instant in another zone or language,
    or a second later, reads as Django formats it."""
    from datetime import UTC, datetime, timedelta

    from django.utils import formats, timezone, translation

    from apps.console.formatting import when

    start = datetime(2026, 3, 8, 6, 59, 58, 123456, tzinfo=UTC)  # New York changes its clocks at 07:00 UTC
    with translation.override(language), timezone.override(zone):
        for moment in (start + timedelta(seconds=step, microseconds=step * 1000) for step in range(4)):
            assert when(moment) == formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")
