"""The web console: login required, the same role rules as the API, scaling audited as 'console'."""

import pytest
from django.test import Client

from apps.core.models import AuditEntry
from apps.provisioning.models import Job
from tests.factories import PoolFactory, TemplateFactory, with_template

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool(cluster):
    """A pool with one template."""
    return with_template(PoolFactory(cluster=cluster, name="web"), TemplateFactory())


def login(user) -> Client:
    """A browser session signed in as user."""
    client = Client()
    client.force_login(user)
    return client


def test_pages_need_login(pool):
    """Anonymous visitors are sent to the login page."""
    for url in ("/", f"/pools/{pool.pk}/", "/jobs/1/"):
        answer = Client().get(url)
        assert answer.status_code == 302
        assert answer["Location"].startswith("/login/")


def test_login_page_signs_in(users):
    """The login form accepts the right password and refuses a wrong one."""
    client = Client()
    assert client.post("/login/", {"username": "guest-user", "password": "wrong"}).status_code == 200
    answer = client.post("/login/", {"username": "guest-user", "password": "correct horse battery"})
    assert answer.status_code == 302
    assert client.get("/").status_code == 200


def test_non_member_gets_404(pool, users):
    """A pool of another cluster does not exist for an outsider, and is not listed."""
    client = login(users["outsider"])
    assert client.get(f"/pools/{pool.pk}/").status_code == 404
    assert b"web" not in client.get("/").content


def test_guest_sees_pool_without_scale_form_and_cannot_scale(pool, users):
    """A guest reads the pool; the form is not shown and a forged POST changes nothing."""
    client = login(users["guest"])
    page = client.get(f"/pools/{pool.pk}/")
    assert page.status_code == 200 and b"Placement order" in page.content
    assert b'name="delta"' not in page.content
    answer = client.post(f"/pools/{pool.pk}/scale/", {"delta": 1}, follow=True)
    assert b"does not allow scaling" in answer.content
    assert not Job.objects.exists()


def test_developer_scales_from_console(pool, users):
    """A developer's scale creates the job, shows it, and is audited as made through the console."""
    client = login(users["developer"])
    answer = client.post(f"/pools/{pool.pk}/scale/", {"delta": 2})
    job = Job.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/jobs/{job.pk}/"
    page = client.get(f"/jobs/{job.pk}/")
    assert page.status_code == 200 and b"requested" in page.content
    entry = AuditEntry.objects.get(action="scale")
    assert entry.via == "console" and entry.username == "developer-user"
    assert entry.before == {"desired_size": 0} and entry.after["desired_size"] == 2


def test_console_scale_errors_are_shown(pool, users):
    """Past max_size, or not a number: a message, and nothing changes."""
    client = login(users["developer"])
    page = client.post(f"/pools/{pool.pk}/scale/", {"delta": 99}, follow=True)
    assert b"max_size 10" in page.content
    page = client.post(f"/pools/{pool.pk}/scale/", {"delta": "lots"}, follow=True)
    assert b"Give the number of hosts" in page.content
    assert not Job.objects.exists()


def test_host_page_shows_init_runs_and_lets_developers_rerun(cluster, users):
    """The host page lists its runs with their output; a developer re-runs, a guest gets no button and a refusal."""
    from apps.configuration.models import InitRun
    from tests.factories import MachineFactory, ready_hosts

    template = TemplateFactory(init_method="ansible")
    pool = with_template(PoolFactory(cluster=cluster), template)
    host = ready_hosts(pool, template, [MachineFactory(provider=template.provider)])[0]
    InitRun.objects.create(
        host=host,
        method="ansible",
        status="changed",
        output="changed: ntp : Write chrony.conf",
        started_at=host.created_at,
    )
    guest = login(users["guest"]).get(f"/hosts/{host.pk}/")
    assert guest.status_code == 200 and b"changed: ntp : Write chrony.conf" in guest.content
    assert b"Re-run initialization" not in guest.content
    refused = login(users["guest"]).post(f"/hosts/{host.pk}/initialize/", follow=True)
    assert b"does not allow" in refused.content and InitRun.objects.count() == 1
    assert login(users["outsider"]).get(f"/hosts/{host.pk}/").status_code == 404
    developer = login(users["developer"])
    assert b"Re-run initialization" in developer.get(f"/hosts/{host.pk}/").content
    answer = developer.post(f"/hosts/{host.pk}/initialize/", follow=True)
    assert b"Initialization started again" in answer.content
    assert InitRun.objects.filter(rerun=True, status="running").count() == 1


def test_host_page_and_list_show_drift_and_start_a_check(cluster, users, django_capture_on_commit_callbacks):
    """A drifted host shows what differs (list and page); a developer checks it again as a job, a guest cannot."""
    from apps.configuration.models import InitRun
    from apps.inventory.models import Host
    from tests.factories import MachineFactory, ready_hosts

    template = TemplateFactory(init_method="puppet")
    pool = with_template(PoolFactory(cluster=cluster), template)
    host = ready_hosts(pool, template, [MachineFactory(provider=template.provider)])[0]
    diff = "--- /etc/docker/daemon.json\n+++ /tmp/puppet-file\n-mirror-by-hand\n+mirror"
    Host.objects.filter(pk=host.pk).update(
        drift_state="drifted", drift_summary=[{"resource": "File[/etc/docker/daemon.json] content", "diff": diff}]
    )
    guest = login(users["guest"])
    page = guest.get(f"/hosts/{host.pk}/").content.decode()
    assert "File[/etc/docker/daemon.json] content" in page and "-mirror-by-hand" in page
    assert "Check for drift" not in page and "Re-initialize" not in page
    assert 'status-drifted" data-value="drifted">drifted' in guest.get("/hosts/").content.decode()
    refused = guest.post(f"/hosts/{host.pk}/initialize/", {"check": "1"}, follow=True)
    assert b"does not allow" in refused.content and not Job.objects.exists()

    developer = login(users["developer"])
    page = developer.get(f"/hosts/{host.pk}/").content.decode()
    assert "Check for drift" in page and "Re-initialize" in page
    with django_capture_on_commit_callbacks(execute=False):
        answer = developer.post(f"/hosts/{host.pk}/initialize/", {"check": "1"}, follow=True)
    job = Job.objects.get()
    assert job.kind == "check" and f"Drift check started (job {job.pk})" in answer.content.decode()
    assert InitRun.objects.get().drift_check is True
    assert "check" in developer.get(f"/jobs/{job.pk}/").content.decode()


def test_logout_by_get_shows_a_page_that_logs_out(users):
    """GET /logout/ (typed or bookmarked) shows a Log out button, not a blank 405; the button logs out."""
    client = login(users["guest"])
    page = client.get("/logout/")
    assert page.status_code == 200
    assert b'<form method="post" action="/logout/">' in page.content and b"Log out</button>" in page.content
    assert client.get("/").status_code == 200, "a GET must not log out (a link or prefetch could)"

    answer = client.post("/logout/")
    assert answer.status_code == 302 and answer["Location"] == "/login/"
    assert client.get("/")["Location"].startswith("/login/")
    # Signed out, the same address leads to the login page.
    assert client.get("/logout/")["Location"] == "/login/"
