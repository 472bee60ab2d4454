"""The console's create, edit and delete pages: every form, its errors next to its fields, the role checks.

Each test posts what a person would type and reads the answer where they
would: the page's field errors, the object as the API then shows it, the audit
log. A refused or bad submit leaves the database as it was.
"""

import html
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.configuration.models import Registry
from apps.console.i18n import SESSION_KEY
from apps.core.models import AuditEntry
from apps.costs.budgets.models import Budget
from apps.costs.reports.models import CostReportSchedule
from apps.inventory.models import Cluster, Host, PhysicalMachine, ServicePool
from apps.providers.models import CloudAccount, MachineTemplate
from tests.factories import MachineFactory, PhysicalProviderFactory, PoolFactory, TemplateFactory, with_template

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-never-shown"


def login(user, language: str = "") -> Client:
    """A browser session signed in as user (in language, when given)."""
    client = Client()
    client.force_login(user)
    if language:
        session = client.session
        session[SESSION_KEY] = language
        session.save()
    return client


def field_errors(answer, name: str) -> list[str]:
    """The error messages drawn next to one field of the form on the page."""
    page = answer.content.decode()
    ends = r'(<div class="field|<p class="buttons")'
    block = re.search(rf'<div class="field[^"]*" data-field="{name}">(.*?){ends}', page, re.S)
    assert block, f"no field {name} on the page"
    errors = re.search(r'<ul class="errorlist"[^>]*>(.*?)</ul>', block.group(1), re.S)
    return [html.unescape(m.strip()) for m in re.findall(r"<li>(.*?)</li>", errors.group(1), re.S)] if errors else []


def form_errors(answer) -> list[str]:
    """The errors drawn above the form (those no field shows)."""
    block = re.search(r'<ul class="messages form-errors">(.*?)</ul>', answer.content.decode(), re.S)
    return re.findall(r'<li class="error">(.*?)</li>', block.group(1), re.S) if block else []


@pytest.fixture
def pool(cluster):
    """A pool of the cluster with one template."""
    return with_template(PoolFactory(cluster=cluster, name="web"), TemplateFactory(name="small"))


# -- Clusters -----------------------------------------------------------------------------------------------------


def test_sysadmin_creates_a_cluster_and_a_bad_name_is_shown_by_its_field(sysadmin):
    """A name that is not a slug, then one already used, each get a message next to the name; then it is made."""
    Cluster.objects.create(name="taken")
    client = login(sysadmin)
    assert b'name="name"' in client.get("/clusters/add/").content
    answer = client.post("/clusters/add/", {"name": "bad name!", "description": ""})
    assert answer.status_code == 400
    assert any("letters, numbers, underscores or hyphens" in e for e in field_errors(answer, "name"))
    answer = client.post("/clusters/add/", {"name": "taken", "description": ""})
    assert answer.status_code == 400 and field_errors(answer, "name")
    assert Cluster.objects.count() == 1
    answer = client.post("/clusters/add/", {"name": "payments", "description": "Payments team"})
    made = Cluster.objects.get(name="payments")
    assert answer.status_code == 302 and answer["Location"] == f"/clusters/{made.pk}/"
    assert b"Payments team" in client.get(answer["Location"]).content
    entry = AuditEntry.objects.get(action="create", object_id=str(made.pk))
    assert entry.via == "console" and entry.username == sysadmin.username


def test_cluster_admin_edits_guest_and_outsider_are_refused(cluster, users):
    """The admin's edit is saved; a guest's forged POST is a 403, an outsider's a 404; neither changes anything."""
    for who, status in (("guest", 403), ("developer", 403), ("outsider", 404)):
        client = login(users[who])
        assert client.get(f"/clusters/{cluster.pk}/edit/").status_code == status
        assert client.post(f"/clusters/{cluster.pk}/edit/", {"name": "stolen"}).status_code == status
        assert client.post(f"/clusters/{cluster.pk}/delete/").status_code == status
        assert client.get("/clusters/add/").status_code == 403
    cluster.refresh_from_db()
    assert cluster.name != "stolen"
    admin = login(users["admin"])
    answer = admin.post(f"/clusters/{cluster.pk}/edit/", {"name": cluster.name, "description": "Edge services"})
    assert answer.status_code == 302
    cluster.refresh_from_db()
    assert cluster.description == "Edge services"


def test_guest_sees_no_edit_controls(pool, users):
    """No Edit, Delete or Add on the guest's cluster and pool pages and lists; the admin sees them."""
    guest = login(users["guest"])
    for url in (f"/clusters/{pool.cluster_id}/", f"/pools/{pool.pk}/", "/pools/", "/providers/", "/clusters/"):
        page = guest.get(url).content.decode()
        assert "/edit/" not in page and "/delete/" not in page and "/add/" not in page, url
    admin = login(users["admin"])
    assert f"/pools/{pool.pk}/edit/" in admin.get(f"/pools/{pool.pk}/").content.decode()
    assert f"/clusters/{pool.cluster_id}/edit/" in admin.get(f"/clusters/{pool.cluster_id}/").content.decode()
    assert "/pools/add/" in admin.get("/pools/").content.decode()


def test_deleting_a_cluster_asks_first_and_refuses_while_it_has_pools(pool, sysadmin):
    """The confirmation page changes nothing; a cluster with pools stays, saying why; an empty one goes."""
    client = login(sysadmin)
    confirm = client.get(f"/clusters/{pool.cluster_id}/delete/")
    assert confirm.status_code == 200 and b"cannot be undone" in confirm.content
    answer = client.post(f"/clusters/{pool.cluster_id}/delete/")
    assert answer.status_code == 409 and b"still used by" in answer.content
    assert Cluster.objects.filter(pk=pool.cluster_id).exists()
    empty = Cluster.objects.create(name="empty")
    answer = client.post(f"/clusters/{empty.pk}/delete/")
    assert answer.status_code == 302 and not Cluster.objects.filter(pk=empty.pk).exists()


# -- Pools --------------------------------------------------------------------------------------------------------


def test_admin_creates_a_pool_with_its_template_order(cluster, users):
    """Positions typed next to the templates become the placement order; the pool page shows it."""
    first, second = TemplateFactory(name="cheap"), TemplateFactory(name="burst")
    client = login(users["admin"])
    form = client.get(f"/pools/add/?cluster={cluster.pk}").content.decode()
    assert f'<option value="{cluster.pk}" selected>' in form
    body = {"cluster": cluster.pk, "name": "api", "min_size": 0, "max_size": 5}
    answer = client.post("/pools/add/", {**body, f"templates-{second.pk}": "2", f"templates-{first.pk}": "1"})
    pool = ServicePool.objects.get(name="api")
    assert answer.status_code == 302 and answer["Location"] == f"/pools/{pool.pk}/"
    assert [t.name for t in pool.ordered_templates()] == ["cheap", "burst"]
    page = client.get(answer["Location"]).content.decode()
    assert page.index("cheap") < page.index("burst")
    answer = client.post(f"/pools/{pool.pk}/edit/", {**body, f"templates-{second.pk}": "1"})
    assert answer.status_code == 302
    assert [t.name for t in pool.ordered_templates()] == ["burst"]


def test_pool_form_errors_are_next_to_their_fields(pool, users):
    """Bounds the wrong way round, a repeated position, a word for a number: each by its field; nothing changes."""
    client = login(users["admin"])
    template = pool.ordered_templates()[0]
    other = TemplateFactory(name="other")
    url = f"/pools/{pool.pk}/edit/"
    body = {"name": "web", "min_size": 0, "max_size": 10, f"templates-{template.pk}": "1"}
    answer = client.post(url, {**body, "min_size": 5, "max_size": 2})
    assert answer.status_code == 400
    assert field_errors(answer, "min_size") == ["The min_size 5 is above max_size 2: lower one or raise the other."]
    answer = client.post(url, {**body, f"templates-{other.pk}": "1"})
    assert field_errors(answer, "templates") == ["Give each template its own position: two have the same number."]
    answer = client.post(url, {**body, "max_size": "ten"})
    assert field_errors(answer, "max_size") == ["Enter a whole number."]
    answer = client.post(url, {**body, "name": "Web Pool"})
    assert field_errors(answer, "name")
    pool.refresh_from_db()
    assert (pool.name, pool.min_size, pool.max_size) == ("web", 0, 10)
    assert [t.pk for t in pool.ordered_templates()] == [template.pk]


def test_pool_forms_refuse_other_roles_and_clusters(pool, users):
    """A developer's forged POST is a 403, an outsider's a 404; a pool in a cluster one does not administer is
    refused next to the cluster; nothing is made or changed."""
    url = f"/pools/{pool.pk}/edit/"
    body = {"name": "renamed", "min_size": 0, "max_size": 10}
    assert login(users["developer"]).post(url, body).status_code == 403
    assert login(users["outsider"]).post(url, body).status_code == 404
    assert login(users["outsider"]).post(f"/pools/{pool.pk}/delete/").status_code == 404
    assert login(users["guest"]).post("/pools/add/", {**body, "cluster": pool.cluster_id}).status_code == 403
    elsewhere = Cluster.objects.create(name="elsewhere")
    answer = login(users["admin"]).post("/pools/add/", {**body, "cluster": elsewhere.pk})
    assert answer.status_code == 400 and field_errors(answer, "cluster")
    assert ServicePool.objects.get().name == "web"


def test_deleting_a_pool_with_hosts_is_refused_and_an_empty_one_goes(pool, users):
    """The pool with a host stays, saying what uses it; without hosts it is deleted and audited."""
    template = pool.ordered_templates()[0]
    host = Host.objects.create(pool=pool, provider=template.provider, template=template, hostname="h1")
    client = login(users["admin"])
    answer = client.post(f"/pools/{pool.pk}/delete/")
    assert answer.status_code == 409 and b"still used by" in answer.content
    host.delete()
    answer = client.post(f"/pools/{pool.pk}/delete/")
    assert answer.status_code == 302 and answer["Location"] == f"/clusters/{pool.cluster_id}/"
    assert not ServicePool.objects.exists()
    assert AuditEntry.objects.filter(action="delete", via="console").exists()


# -- Provider accounts (write-only credentials) -------------------------------------------------------------------


def test_provider_credentials_are_never_shown_and_blank_keeps_them(sysadmin):
    """Credentials typed in are stored, never drawn again (not on a bad submit either); blank on edit keeps them."""
    client = login(sysadmin)
    bad = {"name": "aws-main", "kind": "aws", "region": "us-east-1", "credentials": f'{{"access_key_id": "{SECRET}"}}'}
    answer = client.post("/providers/add/", bad)
    assert answer.status_code == 400
    assert field_errors(answer, "credentials") == ["Missing for aws: secret_access_key"]
    assert SECRET not in answer.content.decode()
    assert not CloudAccount.objects.exists()
    answer = client.post("/providers/add/", {**bad, "kind": "physical", "name": "idc-bj", "credentials": "{}"})
    account = CloudAccount.objects.get(name="idc-bj")
    account.credentials = {"token": SECRET}
    account.save()
    page = client.get(f"/providers/{account.pk}/edit/").content.decode()
    assert SECRET not in page and "never shown" in page
    answer = client.post(f"/providers/{account.pk}/edit/", {"name": "idc-bj", "region": "bj", "credentials": ""})
    assert answer.status_code == 302
    account.refresh_from_db()
    assert account.region == "bj" and account.credentials == {"token": SECRET}
    assert SECRET not in client.get("/providers/").content.decode()
    assert SECRET not in str(list(AuditEntry.objects.values_list("before", "after")))
    answer = client.post(f"/providers/{account.pk}/edit/", {"name": "idc-bj", "credentials": "[1, 2]"})
    assert field_errors(answer, "credentials") == ["Give the credentials as a JSON object of the kind's keys."]


def test_provider_is_deleted_from_its_edit_page_unless_templates_use_it(sysadmin):
    """The edit page links its delete page; a provider a template uses stays, saying so; an unused one goes."""
    used, unused = PhysicalProviderFactory(name="idc-used"), PhysicalProviderFactory(name="idc-unused")
    TemplateFactory(provider=used)
    client = login(sysadmin)
    assert f'href="/providers/{used.pk}/delete/"' in client.get(f"/providers/{used.pk}/edit/").content.decode()
    answer = client.post(f"/providers/{used.pk}/delete/")
    assert answer.status_code == 409 and "still used by" in answer.content.decode()
    answer = client.post(f"/providers/{unused.pk}/delete/")
    assert answer.status_code == 302 and answer["Location"] == "/providers/"
    assert list(CloudAccount.objects.values_list("name", flat=True)) == ["idc-used"]


@pytest.mark.parametrize("prefix", ["providers", "templates", "physical-machines", "registries"])
def test_inventory_pages_are_for_system_administrators(prefix, users):
    """A cluster admin (not a system administrator) sees no Add or Edit, and a forged add, edit or delete is a 403
    that changes nothing."""
    machine = MachineFactory()
    template = TemplateFactory(provider=machine.provider)
    registry = Registry.objects.create(name="harbor", url="registry.example.com")
    obj = {"providers": machine.provider, "templates": template, "physical-machines": machine, "registries": registry}
    target = obj[prefix]
    before = AuditEntry.objects.count()
    client = login(users["admin"])
    assert "/edit/" not in client.get(f"/{prefix}/").content.decode()
    assert client.get(f"/{prefix}/add/").status_code == 403
    assert client.post(f"/{prefix}/add/", {"name": "stolen", "hostname": "stolen"}).status_code == 403
    assert client.get(f"/{prefix}/{target.pk}/edit/").status_code == 403
    assert client.post(f"/{prefix}/{target.pk}/edit/", {"name": "stolen", "hostname": "stolen"}).status_code == 403
    assert client.post(f"/{prefix}/{target.pk}/delete/").status_code == 403
    target.refresh_from_db()
    assert "stolen" not in str(target) and AuditEntry.objects.count() == before


# -- Templates ----------------------------------------------------------------------------------------------------


def test_template_is_checked_against_its_provider(sysadmin):
    """An unknown machine class and bad JSON are shown by their fields; a known class is saved."""
    machine = MachineFactory(machine_class="c12")
    client = login(sysadmin)
    body = {"name": "light", "provider": machine.provider_id, "instance_type": "c99", "init_method": "none"}
    answer = client.post("/templates/add/", {**body, "init_vars": "{not json"})
    assert field_errors(answer, "init_vars") == ["Enter a valid JSON."]
    answer = client.post("/templates/add/", body)
    assert answer.status_code == 400
    assert field_errors(answer, "instance_type")[0].startswith(f"Provider {machine.provider.name} has no 'c99'")
    assert not MachineTemplate.objects.exists()
    answer = client.post("/templates/add/", {**body, "instance_type": "c12", "security_groups": "web, ssh"})
    assert answer.status_code == 302
    template = MachineTemplate.objects.get()
    assert template.instance_type == "c12" and template.security_groups == ["web", "ssh"]
    answer = client.get(f"/templates/{template.pk}/edit/").content.decode()
    assert 'value="light"' in answer and "web\nssh" in answer


# -- Physical machines, one by one and from CSV -------------------------------------------------------------------


def test_machine_form_and_its_errors(sysadmin):
    """A machine is registered; a bad address and a taken host name are shown by their fields."""
    provider = PhysicalProviderFactory()
    MachineFactory(provider=provider, hostname="pm-taken")
    client = login(sysadmin)
    body = {"provider": provider.pk, "hostname": "pm-new", "ip": "10.9.0.1", "cpu": 12, "memory_gb": "16"}
    body |= {"machine_class": "c12", "idc": "bj-1", "monthly_cost": "120.50", "state": "free"}
    answer = client.post("/physical-machines/add/", {**body, "ip": "10.9.0.300"})
    assert field_errors(answer, "ip") == ["Enter a valid IPv4 or IPv6 address."]
    answer = client.post("/physical-machines/add/", {**body, "hostname": "pm-taken"})
    assert field_errors(answer, "hostname") == ["Physical machine with this hostname already exists."]
    answer = client.post("/physical-machines/add/", {**body, "state": "allocated"})
    assert answer.status_code == 400 and field_errors(answer, "state")
    assert client.post("/physical-machines/add/", body).status_code == 302
    assert PhysicalMachine.objects.get(hostname="pm-new").monthly_cost == Decimal("120.50")


def csv_bytes(data: bytes) -> SimpleUploadedFile:
    """An uploaded file of these bytes."""
    return SimpleUploadedFile("machines.csv", data, content_type="text/csv")


def csv_file(text: str) -> SimpleUploadedFile:
    """An uploaded CSV file of this text."""
    return csv_bytes(text.encode())


def test_csv_import_is_all_or_nothing_with_errors_by_row(sysadmin, users):
    """A file with a bad row imports nothing and names the row and field; a good one imports every row."""
    provider = PhysicalProviderFactory()
    header = "provider,hostname,ip,cpu,memory_gb,machine_class,idc,monthly_cost\n"
    good = f"{provider.pk},pm-a,10.8.0.1,12,16,c12,bj-1,100\n"
    client = login(sysadmin)
    bad = "x,pm-b,10.8.0.300,12,16,c12,bj-1,100\n"
    answer = client.post("/physical-machines/import/", {"file": csv_file(header + good + bad)})
    assert answer.status_code == 400
    page = answer.content.decode()
    assert "Nothing was imported" in page
    assert "Row 2, provider: Incorrect type. Expected pk value, received str." in page
    assert "Row 2, ip: Enter a valid IPv4 or IPv6 address." in page
    assert not PhysicalMachine.objects.exists()
    answer = client.post("/physical-machines/import/", {"file": csv_file("no,header\n")})
    assert answer.status_code == 400
    second = good.replace("pm-a", "pm-b").replace(".1,", ".2,")
    answer = client.post("/physical-machines/import/", {"file": csv_file(header + good + second)})
    assert answer.status_code == 302
    assert sorted(PhysicalMachine.objects.values_list("hostname", flat=True)) == ["pm-a", "pm-b"]
    assert login(users["admin"]).post("/physical-machines/import/", {"file": csv_file(header)}).status_code == 403


# -- Registries (write-only password) -----------------------------------------------------------------------------


def test_registry_password_is_write_only(sysadmin):
    """The password is stored, never drawn (not after a bad submit either), and kept when left blank."""
    client = login(sysadmin)
    body = {"name": "harbor", "url": "registry.example.com", "username": "robot", "password": SECRET}
    answer = client.post("/registries/add/", {**body, "mirrors": '["not", "an", "object"]'})
    assert answer.status_code == 400 and field_errors(answer, "mirrors")
    assert SECRET not in answer.content.decode()
    assert client.post("/registries/add/", body).status_code == 302
    registry = Registry.objects.get()
    page = client.get(f"/registries/{registry.pk}/edit/").content.decode()
    assert SECRET not in page and "leave blank to keep it" in page
    answer = client.post(f"/registries/{registry.pk}/edit/", {**body, "password": "", "insecure": "on"})
    assert answer.status_code == 302
    registry.refresh_from_db()
    assert registry.password == SECRET and registry.insecure


# -- Budgets and report schedules ---------------------------------------------------------------------------------


def test_budget_form_thresholds_recipients_and_hidden_webhook_token(pool, users):
    """Thresholds and recipients typed as lines; bad lines by their fields; a webhook's token is never drawn and is
    kept when the form is saved again as shown."""
    client = login(users["admin"])
    hook = "https://oapi.dingtalk.com/robot/send?access_token=tok-" + SECRET
    body = {"cluster": pool.cluster_id, "pool": pool.pk, "name": "web", "period": "month", "amount": "500"}
    body |= {"currency": "USD", "thresholds": "80 actual\n100 forecast", "notify": f"ops@example.com\n{hook} dingtalk"}
    answer = client.post("/budgets/add/", {**body, "thresholds": "eighty"})
    assert field_errors(answer, "thresholds") == [
        "Write each threshold as a percent and actual or forecast, e.g. “80 actual”: “eighty” is not."
    ]
    answer = client.post("/budgets/add/", {**body, "notify": ""})
    assert field_errors(answer, "notify") == [
        "Thresholds alert someone: give at least one e-mail address or webhook URL in notify."
    ]
    answer = client.post("/budgets/add/", {**body, "amount": "-3"})
    assert field_errors(answer, "amount") == ["Give an amount above 0."]
    assert not Budget.objects.exists()
    answer = client.post("/budgets/add/", {**body, "enforce": "on"})
    budget = Budget.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/clusters/{pool.cluster_id}/"
    assert budget.enforce and budget.thresholds == [{"percent": 80, "of": "actual"}, {"percent": 100, "of": "forecast"}]
    page = client.get(f"/budgets/{budget.pk}/edit/").content.decode()
    assert SECRET not in page and "robot/send?***" in page
    notify = re.search(r'<textarea name="notify"[^>]*>(.*?)</textarea>', page, re.S).group(1).strip()
    answer = client.post(f"/budgets/{budget.pk}/edit/", {**body, "amount": "600", "notify": notify})
    assert answer.status_code == 302
    budget.refresh_from_db()
    assert budget.amount == Decimal("600") and budget.notify[1]["url"] == hook
    assert login(users["guest"]).post(f"/budgets/{budget.pk}/edit/", body).status_code == 403
    assert login(users["outsider"]).get(f"/budgets/{budget.pk}/edit/").status_code == 404
    assert login(users["developer"]).post(f"/budgets/{budget.pk}/delete/").status_code == 403
    assert Budget.objects.get().amount == Decimal("600")


def test_report_schedule_form(cluster, users):
    """A schedule of the cluster is made by its admin; bad recipients and no files are shown by their fields."""
    client = login(users["admin"])
    body = {"name": "monthly", "cluster": cluster.pk, "group_by": ["pool", "provider"], "currency": "USD"}
    body |= {"frequency": "monthly", "time_zone": "Asia/Shanghai", "formats": ["csv"], "recipients": "fin@example.com"}
    answer = client.post("/cost-report-schedules/add/", {**body, "formats": []})
    assert field_errors(answer, "formats") == ["This field is required."]
    answer = client.post("/cost-report-schedules/add/", {**body, "recipients": "fin@example.com\nnot-an-address"})
    assert field_errors(answer, "recipients") == ["Line 2: Give an e-mail address such as finance@example.com."]
    answer = client.post("/cost-report-schedules/add/", {**body, "time_zone": "Mars/Olympus"})
    assert field_errors(answer, "time_zone")
    assert not CostReportSchedule.objects.exists()
    assert client.post("/cost-report-schedules/add/", {**body, "active": "on"}).status_code == 302
    schedule = CostReportSchedule.objects.get()
    assert schedule.group_by == "pool,provider" and schedule.owner == users["admin"]
    assert f"/cost-report-schedules/{schedule.pk}/edit/" in client.get(f"/clusters/{cluster.pk}/").content.decode()
    assert login(users["guest"]).post(f"/cost-report-schedules/{schedule.pk}/edit/", body).status_code == 403
    answer = login(users["guest"]).post("/cost-report-schedules/add/", body)
    assert answer.status_code == 400 and field_errors(answer, "cluster")
    assert CostReportSchedule.objects.count() == 1


# -- Language and cost --------------------------------------------------------------------------------------------


def test_form_errors_in_chinese(pool, users):
    """In Chinese, the labels and the messages next to the fields are Chinese: Django's, the form's, the API's."""
    client = login(users["admin"], language="zh-hans")
    answer = client.post(f"/pools/{pool.pk}/edit/", {"name": "web", "min_size": "多", "max_size": 10})
    assert answer.status_code == 400
    assert field_errors(answer, "min_size") == ["输入整数。"]
    assert "最小规模" in answer.content.decode()
    body = {"name": "web", "min_size": 0, "max_size": 10, "templates-999": "1"}
    answer = client.post(f"/pools/{pool.pk}/edit/", body)
    assert field_errors(answer, "templates") == ["请从列表中选择模板。"]
    body = {"cluster": pool.cluster_id, "period": "month", "amount": "0", "currency": "USD"}
    answer = client.post("/budgets/add/", body)
    assert field_errors(answer, "amount") == ["请填写大于 0 的金额。"]
    assert not Budget.objects.exists()


def test_edit_pages_make_a_fixed_number_of_queries(cluster, users):
    """The pool form costs the same number of queries with 2 templates as with 20."""
    pool = with_template(PoolFactory(cluster=cluster, name="q"), TemplateFactory())
    TemplateFactory()
    client = login(users["admin"])
    counts = []
    for more in (0, 18):
        for priority in range(1, more + 1):
            with_template(pool, TemplateFactory(), priority=priority)
        client.get(f"/pools/{pool.pk}/edit/")
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/pools/{pool.pk}/edit/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_lists_with_edit_links_make_a_fixed_number_of_queries(sysadmin):
    """The providers list with its Edit column costs the same with 2 accounts as with 12, and links each row."""
    client = login(sysadmin)
    counts = []
    for more in (2, 10):
        for _i in range(more):
            PhysicalProviderFactory()
        with CaptureQueriesContext(connection) as queries:
            page = client.get("/providers/").content.decode()
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert page.count("/edit/") == 12 and 'href="/providers/add/"' in page


def test_csv_import_of_nothing_says_what_to_send(sysadmin):
    """A header without rows, or a file that is not text, is refused with a message; nothing is imported."""
    client = login(sysadmin)
    answer = client.post("/physical-machines/import/", {"file": csv_file("hostname,ip\n")})
    assert answer.status_code == 400 and "non-empty" in answer.content.decode()
    answer = client.post("/physical-machines/import/", {"file": csv_bytes(b"\xff\xfe")})
    assert field_errors(answer, "file") == ["CSV body is not UTF-8 text."]
    assert not PhysicalMachine.objects.exists()


def test_odd_input_is_a_message_by_its_field_never_a_500(sysadmin, cluster):
    """What the API's parser refuses (a NUL, JSON nested too deep) and numbers out of range or in exponent form are
    refused by the field they were typed in; nothing is stored."""
    machine = MachineFactory()
    client = login(sysadmin)
    provider = {"name": "p", "kind": "physical"}
    box = {"provider": machine.provider_id, "hostname": "h", "ip": "10.1.0.1", "cpu": 4, "memory_gb": "8"}
    box |= {"machine_class": "c", "idc": "i", "monthly_cost": "10", "state": "free"}
    cases = [
        ("/providers/add/", {**provider, "options": '{"a": "\\u0000"}'}, "options", "Remove the NUL character"),
        ("/providers/add/", {**provider, "options": "[" * 40 + "]" * 40}, "options", "at most 32 deep"),
        ("/registries/add/", {"name": "r", "url": "x", "mirrors": '{"a\\u0000": "https://m"}'}, "mirrors", "NUL"),
        ("/physical-machines/add/", {**box, "monthly_cost": "1e30"}, "monthly_cost", "no more than 10 digits"),
        ("/physical-machines/add/", {**box, "cpu": "99999999999"}, "cpu", "less than or equal to 4096"),
        ("/pools/add/", {"cluster": "9" * 30, "name": "x", "min_size": 0, "max_size": 1}, "cluster", "Pick one"),
    ]
    for url, body, field, message in cases:
        answer = client.post(url, body)
        assert answer.status_code == 400, (url, body)
        assert any(message in text for text in field_errors(answer, field)), (url, field_errors(answer, field))
    assert not CloudAccount.objects.exclude(pk=machine.provider_id).exists()
    assert not Registry.objects.exists() and PhysicalMachine.objects.count() == 1
