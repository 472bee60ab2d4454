"""A console form in a real browser: bad input gets its message next to the field, the fix is saved, the detail
page shows it (a pool, a provider account, a pool's scaling schedule). Playwright drives Debian's Chromium against
a live server (the browser fixtures of test_browser)."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from apps.inventory.models import ServicePool
from apps.scaling.models import ScalingSchedule
from tests.console.test_browser import browser, page_as  # noqa: F401 - fixtures, shared with the console's other browser tests
from tests.factories import PoolFactory, TemplateFactory

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_pool_form_shows_the_error_by_its_field_then_saves(page_as, cluster, users, tmp_path):  # noqa: F811
    """An admin adds a pool from the cluster page with bounds the wrong way round: the message is drawn under the
    minimum size, nothing is made, the typed values stay; lowered, it is saved and its page shows it."""
    TemplateFactory(name="cheap-c32")
    page = page_as(users["admin"])
    page.goto(f"{page.base}/clusters/{cluster.pk}/")
    page.click("a[href^='/pools/add/']")
    page.wait_for_url(re.compile(r"/pools/add/\?cluster="))
    assert page.locator("select[name=cluster]").input_value() == str(cluster.pk)
    page.fill("input[name=name]", "api")
    page.fill("input[name=min_size]", "5")
    page.fill("input[name=max_size]", "2")
    page.fill("tr[data-template=cheap-c32] input", "1")
    page.click("form.edit button[type=submit]")
    error = page.locator("[data-field=min_size] .errorlist")
    error.wait_for()
    assert error.inner_text() == "The min_size 5 is above max_size 2: lower one or raise the other."
    # The message sits right under its own field, not somewhere else on the page.
    field_box = page.locator("input[name=min_size]").bounding_box()
    error_box = error.bounding_box()
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 30
    assert page.locator("[data-field=max_size] .errorlist").count() == 0
    # A screen reader hears the message with the field: the box points at it and is marked invalid.
    box = page.locator("input[name=min_size]")
    assert error.get_attribute("id") in box.get_attribute("aria-describedby").split()
    assert box.get_attribute("aria-invalid") == "true"
    assert page.locator("tr[data-template=cheap-c32] input").input_value() == "1"
    page.screenshot(path=tmp_path / "pool-form-error.png", full_page=True)
    assert not ServicePool.objects.filter(name="api").exists()
    page.fill("input[name=min_size]", "0")
    page.click("form.edit button[type=submit]")
    page.wait_for_url(re.compile(r"/pools/\d+/$"))
    assert page.locator("h1").inner_text() == f"{cluster.name} / api"
    text = page.locator("main").inner_text()
    assert "bounds 0–2" in text and "cheap-c32" in text and "api was saved." in text
    page.screenshot(path=tmp_path / "pool-saved.png", full_page=True)


def test_provider_form_in_chinese_keeps_no_secret(page_as, sysadmin, tmp_path):  # noqa: F811
    """A zh-CN browser: an empty provider form gets Chinese messages by its fields; credentials typed into a form
    that comes back with errors are not drawn again."""
    page = page_as(sysadmin, locale="zh-CN")
    page.goto(f"{page.base}/providers/add/")
    assert page.locator("h1").inner_text() == "新建云账号"
    page.fill("textarea[name=credentials]", '{"access_key_id": "AKIA-typed-secret"}')
    page.click("form.edit button[type=submit]")
    error = page.locator("[data-field=name] .errorlist")
    error.wait_for()
    assert error.inner_text() == "该字段是必填项。"
    assert page.locator("textarea[name=credentials]").input_value() == ""
    assert "AKIA-typed-secret" not in page.content()
    page.screenshot(path=tmp_path / "provider-form-zh.png", full_page=True)


def test_schedule_form_on_the_pool_page_then_in_chinese(page_as, cluster, users, tmp_path):  # noqa: F811
    """An admin adds a schedule from the pool's page: a bad cron expression is drawn under its field, fixed it is
    saved, and the pool's schedules table shows it with its next occurrence. Switched to Chinese, the schedule's
    form has Chinese labels."""
    pool = PoolFactory(cluster=cluster, name="web", min_size=0, max_size=20)
    page = page_as(users["admin"])
    page.goto(f"{page.base}/pools/{pool.pk}/")
    page.click("a[href^='/scaling-schedules/add/']")
    page.wait_for_url(re.compile(r"/scaling-schedules/add/\?pool="))
    assert page.locator("select[name=pool]").input_value() == str(pool.pk)
    page.fill("input[name=name]", "gala")
    page.fill("input[name=cron]", "0 25 * * 6")
    page.fill("input[name=time_zone]", "Asia/Shanghai")
    page.fill("input[name=desired_size]", "8")
    page.click("form.edit button[type=submit]")
    error = page.locator("[data-field=cron] .errorlist")
    error.wait_for()
    assert error.inner_text().startswith("“0 25 * * 6” is not a cron expression")
    assert page.locator("input[name=desired_size]").input_value() == "8"
    assert not ScalingSchedule.objects.exists()
    page.fill("input[name=cron]", "0 20 * * 6")
    page.click("form.edit button[type=submit]")
    page.wait_for_url(re.compile(r"/pools/\d+/#scaling-schedules$"))
    shanghai = ZoneInfo("Asia/Shanghai")
    expected = croniter("0 20 * * 6", datetime.now(shanghai)).get_next(datetime)
    row = page.locator("table[data-table=scaling-schedules] tbody tr", has_text="gala")
    assert row.count() == 1 and "0 20 * * 6" in row.inner_text()
    times = row.locator("time")
    assert times.count() == 3 and times.first.get_attribute("datetime") == expected.isoformat()
    assert "gala was saved. It runs next at" in page.locator("main").inner_text()
    page.screenshot(path=tmp_path / "pool-schedule-saved.png", full_page=True)
    page.click("details.user summary")
    page.click("button[name=language][value=zh-hans]")
    page.wait_for_load_state()
    assert page.locator("#scaling-schedules").inner_text() == "扩缩容计划"
    row.locator("a[data-action=edit]").click()
    page.wait_for_url(re.compile(r"/scaling-schedules/\d+/edit/"))
    assert page.locator("[data-field=time_zone] label").inner_text() == "时区 *"
    assert page.locator("[data-field=desired_size] label").inner_text() == "扩缩到（台）"
    assert page.locator("[data-field=run_at] label").inner_text() == "单次时间"
    assert page.locator("input[name=cron]").input_value() == "0 20 * * 6"
    page.screenshot(path=tmp_path / "schedule-form-zh.png", full_page=True)
