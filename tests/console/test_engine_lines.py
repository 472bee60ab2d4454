"""Lines the engine writes (a job's timeline and message, a host's status message) read in the reader's language on
the console, while the API keeps answering them in English, word for word."""

import re

import pytest
from django.test import Client

from apps.provisioning import reconciler
from apps.provisioning.models import Job
from tests.factories import PoolFactory, TemplateFactory, with_template

pytestmark = pytest.mark.django_db


def chinese(user) -> Client:
    client = Client()
    client.force_login(user)
    assert client.post("/language/", {"language": "zh-hans", "next": "/"}).status_code == 302
    return client


def cells(html: str) -> list[str]:
    """The text of each table cell and paragraph of the page, tags dropped."""
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<(?:td|p)[^>]*>(.*?)</(?:td|p)>", html, re.S)]


def test_a_job_that_could_not_place_its_hosts_reads_in_chinese_on_its_page(cluster, users, clients):
    """Scale by 2 on a template of physical machines with none free: the reconciler's pass records the request,
    the shortfall and why; the job ends failed. The page shows each line translated, the API the English."""
    pool = with_template(PoolFactory(cluster=cluster, name="web", max_size=10), TemplateFactory(name="rack-a"))
    answer = clients["developer"].post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 2}, format="json")
    assert answer.status_code == 202, answer.content
    reconciler.reconcile(pool.pk)
    job = Job.objects.get(pk=answer.json()["id"])
    assert job.status == "failed"

    api = clients["developer"].get(f"/api/v1/jobs/{job.pk}/").json()
    english = [event["message"] for event in api["events"]]
    assert "developer-user asked for +2: 0 → 2" in english
    assert "2 host(s) not placed: template rack-a: only 0 free 'c32' left" in english
    assert api["message"] == "0 of 2 hosts ready; template rack-a: only 0 free 'c32' left"
    assert "failed: 0 of 2 hosts ready; template rack-a: only 0 free 'c32' left" in english

    shown = cells(chinese(users["developer"]).get(f"/jobs/{job.pk}/").content.decode())
    assert "developer-user 请求 +2：0 → 2" in shown
    assert "2 台主机未能放置：模板 rack-a：只剩 0 台空闲的 &#x27;c32&#x27;" in shown
    assert "2 台主机中 0 台就绪；模板 rack-a：只剩 0 台空闲的 &#x27;c32&#x27;" in shown
    assert "失败：2 台主机中 0 台就绪；模板 rack-a：只剩 0 台空闲的 &#x27;c32&#x27;" in shown
    assert not [cell for cell in shown if "asked for" in cell or "hosts ready" in cell], shown

    # The same page in English reads exactly as the API answers.
    english_page = Client()
    english_page.force_login(users["developer"])
    assert english_page.post("/language/", {"language": "en", "next": "/"}).status_code == 302
    assert "developer-user asked for +2: 0 → 2" in cells(english_page.get(f"/jobs/{job.pk}/").content.decode())
