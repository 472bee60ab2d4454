"""Every field a person fills in on a console page has a label a screen reader reads out with it: a <label for>,
a <label> around it, or an aria-label. Read from the HTML each page sends, for each list (its filters, search and
column chooser), each detail page with a form, and each create, edit and import page."""

from html.parser import HTMLParser

import pytest
from django.test import Client

from apps.inventory.models import Host
from apps.provisioning.models import Job
from tests.api.seed import _cluster
from tests.factories import PhysicalProviderFactory, UserFactory

pytestmark = pytest.mark.django_db

#: Inputs that are not fields a person fills in.
NOT_FIELDS = {"hidden", "submit", "button", "reset", "image"}


class Fields(HTMLParser):
    """The page's form fields and whether each has a label."""

    def __init__(self):
        super().__init__()
        self.fields: list[dict] = []
        self.label_for: set[str] = set()
        self.in_label = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label":
            self.in_label += 1
            if attrs.get("for"):
                self.label_for.add(attrs["for"])
        elif tag in ("input", "select", "textarea"):
            if tag == "input" and attrs.get("type", "text") in NOT_FIELDS:
                return
            self.fields.append({**attrs, "tag": tag, "wrapped": self.in_label > 0})

    def handle_endtag(self, tag):
        if tag == "label" and self.in_label:
            self.in_label -= 1

    def unlabelled(self) -> list[str]:
        """The fields no label names, as `tag name`."""
        return [
            f"{field['tag']} {field.get('name', '?')}"
            for field in self.fields
            if not field["wrapped"]
            and not field.get("aria-label")
            and not field.get("aria-labelledby")
            and field.get("id") not in self.label_for
        ]


def unlabelled(client: Client, url: str) -> list[str]:
    """The fields of the page at url that have no label."""
    answer = client.get(url)
    assert answer.status_code == 200, (url, answer.status_code)
    parser = Fields()
    parser.feed(answer.content.decode())
    assert parser.fields or url.startswith(("/jobs/", "/hosts/")), f"{url} has no field at all"
    return parser.unlabelled()


def test_every_field_has_a_label():
    """A system administrator who is also a cluster admin sees every form; none has a field without its label."""
    provider = PhysicalProviderFactory(name="idc-l")
    root = UserFactory(username="l-root", is_superuser=True)
    made = _cluster(1, provider, root)
    pool, cluster = made["pool"], made["cluster"]
    host = Host.objects.filter(pool=pool).first()
    job = Job.objects.filter(pool=pool).first()
    template = pool.template_links.first().template
    client = Client()
    client.force_login(root)
    pages = [
        "/",
        "/clusters/",
        "/pools/",
        "/hosts/",
        "/jobs/",
        "/costs/",
        "/providers/",
        "/templates/",
        "/physical-machines/",
        "/registries/",
        "/ssh-keys/",
        "/orphans/",
        "/audit/",
        "/budgets/",
        "/reports/",
        f"/clusters/{cluster.pk}/",
        f"/clusters/{cluster.pk}/members/",
        f"/pools/{pool.pk}/",
        f"/hosts/{host.pk}/",
        f"/jobs/{job.pk}/",
        f"/providers/{provider.pk}/",
        "/physical-machines/import/",
        f"/pools/{pool.pk}/edit/",
        f"/templates/{template.pk}/edit/",
        f"/providers/{provider.pk}/edit/",
    ]
    pages += [f"/{prefix}/add/" for prefix in ("clusters", "pools", "providers", "templates", "physical-machines")]
    pages += [f"/{prefix}/add/" for prefix in ("registries", "budgets", "cost-report-schedules")]
    missing = {url: found for url in pages if (found := unlabelled(client, url))}
    assert missing == {}
    # A member's role in the members table is named with the member it changes.
    assert f'aria-label="Role of {root.username}"' in client.get(f"/clusters/{cluster.pk}/").content.decode()
