"""A refusal reads in the console's language, while the API says the same in English (its one language)."""

import pytest
from django.test import Client

from tests.factories import PoolFactory, TemplateFactory, with_template

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool(cluster):
    """A pool of at most 10 hosts with a template."""
    return with_template(PoolFactory(cluster=cluster, name="web", max_size=10), TemplateFactory())


def chinese_console(user) -> Client:
    """A signed-in console session switched to Simplified Chinese through the language form."""
    client = Client()
    client.force_login(user)
    assert client.post("/language/", {"language": "zh-hans", "next": "/"}).status_code == 302
    return client


def test_a_scale_past_max_size_is_refused_in_chinese_on_the_console_and_english_on_the_api(pool, users, clients):
    """Scaling by 11 is refused in both places with the same figures; nothing changes."""
    console = chinese_console(users["developer"])
    page = console.post(f"/pools/{pool.pk}/scale/", {"delta": "11"}, follow=True)
    assert "超过其上限 10（当前 0）；最多还能增加 10 台。" in page.content.decode()
    api = clients["developer"].post(
        f"/api/v1/pools/{pool.pk}/scale/", {"delta": 11}, format="json", HTTP_ACCEPT_LANGUAGE="zh-CN"
    )
    assert api.status_code == 400
    assert "past its max_size 10 (now 0); ask for at most 10 more." in api.json()["delta"][0]
    pool.refresh_from_db()
    assert pool.desired_size == 0 and not pool.jobs.exists()


def test_a_bad_sort_name_is_explained_in_chinese(users):
    """?ordering= with an unknown name: the table's error, in Chinese, names it and the names that work."""
    page = chinese_console(users["guest"]).get("/hosts/?ordering=nonsense")
    assert page.status_code == 400
    text = page.content.decode()
    assert "无法按 &#x27;nonsense&#x27; 排序" in text and "hostname" in text


def test_the_audit_log_names_actions_objects_and_filters_in_chinese(pool, users, clients):
    """A scale through the API is logged; the Chinese audit page says 扩缩容 on 服务池, with Chinese filter labels."""
    assert clients["developer"].post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 1}, format="json").status_code == 202
    page = chinese_console(users["developer"]).get("/audit/").content.decode()
    row = page[page.index("<tbody>") : page.index("</tbody>")]
    assert "扩缩容" in row and "服务池" in row and "scale" not in row and "servicepool" not in row
    start = page.index('class="filters"')
    form = page[start : page.index("</form>", start)]
    assert "集群" in form and "操作" in form and "Cluster" not in form
