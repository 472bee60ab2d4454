"""The console's lists: one declaration per kind of object, each served by the API's own viewset."""

from decimal import Decimal

from django.db.models import CharField, F, Q, Value
from django.db.models.functions import Concat
from django.utils.translation import gettext_lazy as _

from apps.configuration import keys
from apps.configuration.api import RegistryViewSet, SSHKeyViewSet
from apps.console.edit import may_add
from apps.console.formatting import number
from apps.console.generic import ListPage
from apps.console.labels import label
from apps.console.tables import Column, Table
from apps.core.api.audit import AuditEntryViewSet
from apps.core.choices import Action
from apps.core.query import count_related
from apps.inventory.api import ClusterViewSet, HostViewSet, PhysicalMachineViewSet, ServicePoolViewSet
from apps.inventory.models import Cluster, ServicePool
from apps.providers.api import CloudAccountViewSet, MachineTemplateViewSet
from apps.providers.models import CloudAccount
from apps.provisioning.api import JobViewSet, progress
from apps.provisioning.choices import JobStatus
from apps.provisioning.models import Job, JobEvent
from apps.provisioning.orphans_api import OrphanInstanceViewSet

#: The drop-downs of the filters that take an object's id: each label (as str() gives it) read in SQL, so a
#: drop-down of 500 pools builds no model.
CLUSTER_CHOICES = Cluster.objects.annotate(choice_label=F("name"))
POOL_CHOICES = ServicePool.objects.annotate(
    choice_label=Concat("cluster__name", Value("/"), "name", output_field=CharField())
)
PROVIDER_CHOICES = CloudAccount.objects.annotate(choice_label=F("name"))

CREATED = Column("created_at", _("Created"), default=False)
#: Seconds between redraws of the pools list (its sizes and running jobs).
POOLS_REFRESH = 5


def with_running_jobs(pools):
    """Pools annotated with running_jobs (pending or running), counted for the rows fetched only."""
    return pools.annotate(running_jobs=count_related(Job, "pool", Q(status__in=JobStatus.ACTIVE)))


def job_progress(job) -> str:
    """A job's progress in a few words: done of total, failures."""
    figures = progress(job)
    done = figures["removed"] if job.kind == "scale_in" else figures["ready"]
    text = f"{done}/{figures['total']}"
    return f"{text}, {figures['failed']} ✗" if figures["failed"] else text


def seconds(start, end) -> str:
    """The time from start to end in seconds, to a tenth, in the reader's format (``41.2 s``); "" when unknown."""
    if start is None or end is None:
        return ""
    taken = Decimal(str((end - start).total_seconds())).quantize(Decimal("0.1"))
    return _("%(seconds)s s") % {"seconds": number(taken)}


def host_took(host) -> str:
    """How long a job's host took from its request to ready (or to its failure)."""
    return seconds(host.created_at, host.ready_at or host.failed_at)


def job_steps(job):
    """A ``prepare`` for the job page's hosts table: each host of the page gets ``steps``, the job's events on it
    with the time since the host was requested (``Creating +0.4 s → Created +3.1 s → Ready +41.0 s``), all read
    with one query."""

    def attach(hosts) -> None:
        by_host = {host.pk: [] for host in hosts}
        events = JobEvent.objects.filter(job=job, host__in=list(by_host)).order_by("time", "pk")
        for host_id, kind, time in events.values_list("host_id", "kind", "time"):
            by_host[host_id].append((kind, time))
        for host in hosts:
            host.steps = " → ".join(
                f"{label(kind)} +{seconds(host.created_at, time)}" for kind, time in by_host[host.pk]
            )

    return attach


def job_by(job) -> str:
    """Who asked for a job: the person, else the schedule or policy that did (its trigger)."""
    return job.requested_by.username if job.requested_by_id else job.trigger


CLUSTERS = Table(
    "clusters",
    [
        Column("name", _("Name"), link="console:cluster"),
        Column("description", _("Description")),
        CREATED,
    ],
)
POOLS = Table(
    "pools",
    [
        Column("name", _("Pool"), link="console:pool"),
        Column("cluster", _("Cluster"), path="cluster.name", link="console:cluster", link_path="cluster"),
        Column("desired_size", _("Desired")),
        Column("size", _("Size")),
        Column("ready", _("Ready")),
        Column("running_jobs", _("Running jobs"), order=""),
        Column("min_size", _("Min"), default=False),
        Column("max_size", _("Max"), default=False),
        Column("description", _("Description"), default=False),
        CREATED,
    ],
)
HOSTS = Table(
    "hosts",
    [
        Column("hostname", _("Host"), link="console:host"),
        Column("status", _("Status"), pill=True),
        Column("drift", _("Drift"), path="drift_state", order="", pill=True),
        Column("pool", _("Pool"), path="pool.name", link="console:pool", link_path="pool"),
        Column("cluster", _("Cluster"), path="pool.cluster.name", default=False),
        Column("provider", _("Provider"), path="provider.name"),
        Column("template", _("Template"), path="template.name", default=False),
        Column("instance_id", _("Instance")),
        Column("private_ip", _("Private IP")),
        Column("public_ip", _("Public IP"), default=False),
        Column("cpu", _("CPU")),
        Column("memory_gb", _("Memory (GB)")),
        Column("zone", _("Zone")),
        Column("hourly_price", _("Price per hour"), default=False),
        Column("status_message", _("Message"), said=True, order="", default=False),
        Column("created_at", _("Requested")),
        Column("ready_at", _("Ready at"), default=False),
        Column("terminated_at", _("Terminated at"), default=False),
    ],
)
#: A job's hosts on its page: what happened to each (its status, and the message of a failure).
JOB_HOSTS = Table(
    "job-hosts",
    [
        Column("hostname", _("Host"), link="console:host"),
        Column("status", _("Status"), pill=True),
        Column("status_message", _("Message"), said=True, order=""),
        Column("took", _("Took"), order="", value=host_took),
        Column("steps", _("Steps"), order="", value=lambda host: getattr(host, "steps", "")),
        Column("provider", _("Provider"), path="provider.name", default=False),
        Column("instance_id", _("Instance")),
        Column("private_ip", _("Private IP")),
        Column("zone", _("Zone")),
        Column("created_at", _("Requested"), default=False),
        Column("ready_at", _("Ready at")),
        Column("terminated_at", _("Terminated at"), default=False),
    ],
)
JOBS = Table(
    "jobs",
    [
        Column("id", _("Job"), link="console:job"),
        Column("pool", _("Pool"), path="pool.name", link="console:pool", link_path="pool"),
        Column("kind", _("Kind"), labelled=True),
        Column("delta", _("Delta")),
        Column("status", _("Status"), pill=True),
        Column("progress", _("Progress"), order="", value=job_progress),
        Column("requested_by", _("By"), value=job_by),
        Column("message", _("Message"), said=True, default=False),
        Column("created_at", _("Started")),
        Column("finished_at", _("Finished"), default=False),
    ],
)
PROVIDERS = Table(
    "providers",
    [
        Column("name", _("Name"), link="console:provider"),
        Column("kind", _("Kind"), labelled=True),
        Column("region", _("Region")),
        # Read from an annotation the list makes only for system administrators (see ProviderList).
        Column("endpoint_url", _("Endpoint"), path="endpoint_shown", order=""),
        Column("max_hosts", _("Host quota")),
        CREATED,
    ],
)
TEMPLATES = Table(
    "templates",
    [
        Column("name", _("Name")),
        Column("provider", _("Provider"), path="provider.name"),
        Column("region", _("Region")),
        Column("zone", _("Zone")),
        Column("instance_type", _("Instance type")),
        Column("image", _("Image"), default=False),
        Column("cpu", _("CPU")),
        Column("memory_gb", _("Memory (GB)")),
        Column("init_method", _("Initialization"), labelled=True),
        Column("init_profile", _("Profile"), default=False),
        Column("max_hosts", _("Host quota"), default=False),
        Column("hourly_price", _("Price per hour")),
    ],
)
MACHINES = Table(
    "physical-machines",
    [
        Column("hostname", _("Host name")),
        Column("provider", _("Provider"), path="provider.name"),
        Column("ip", _("IP")),
        Column("cpu", _("CPU")),
        Column("memory_gb", _("Memory (GB)")),
        Column("machine_class", _("Machine class")),
        Column("idc", _("IDC")),
        Column("rack", _("Rack"), default=False),
        Column("monthly_cost", _("Monthly cost")),
        Column("state", _("State"), pill=True),
        Column("allocated_at", _("Allocated at"), default=False),
    ],
)
REGISTRIES = Table(
    "registries",
    [
        Column("name", _("Name")),
        Column("url", _("URL")),
        Column("default_mirror", _("Default mirror")),
        Column("insecure", _("Insecure")),
        Column("username", _("User name")),
        CREATED,
    ],
)
SSH_KEYS = Table(
    "ssh-keys",
    [
        Column("id", _("Key")),
        Column("account", _("Provider"), path="account.name"),
        Column("pool", _("Pool"), path="pool.name", link="console:pool", link_path="pool"),
        Column("fingerprint", _("Fingerprint")),
        Column("rotated_at", _("Rotated")),
        # The one line that lets DCP in to a physical machine: shown where the key is.
        Column("bootstrap", _("Bootstrap command"), value=lambda key: keys.bootstrap_command(key.public_key), order=""),
        CREATED,
    ],
)
ORPHANS = Table(
    "orphans",
    [
        Column("instance_id", _("Instance")),
        Column("name", _("Name")),
        Column("provider", _("Provider"), path="provider.name"),
        Column("state", _("State"), pill=True),
        Column("reason", _("Reason")),
        Column("hostname", _("Host"), path="host.hostname", order="", link="console:host", link_path="host"),
        Column("first_seen", _("First seen")),
        Column("last_seen", _("Last seen")),
        Column("terminated_at", _("Terminated at"), default=False),
    ],
)
AUDIT = Table(
    "audit",
    [
        Column("time", _("Time")),
        Column("username", _("User")),
        Column("action", _("Action"), labelled=True),
        Column("object_type", _("Object type"), path="object_type.model", labelled=True),
        Column("object_repr", _("Object")),
        Column("via", _("Via"), labelled=True),
        Column("request_id", _("Request"), default=False),
    ],
)


class ClusterList(ListPage):
    """Clusters the user is a member of."""

    viewset, table, title, section = ClusterViewSet, CLUSTERS, _("Clusters"), "clusters"
    filters, search = (), ("name", "description")
    add, edit = "console:cluster-add", ""


class PoolList(ListPage):
    """Pools of the user's clusters, with their sizes."""

    viewset, table, title, section = ServicePoolViewSet, POOLS, _("Pools"), "pools"
    filters, choices, search = ("cluster",), {"cluster": CLUSTER_CHOICES}, ("name", "cluster__name")
    live = POOLS_REFRESH
    add = "console:pool-add"

    def get_queryset(self, view):
        """The API's pools, with their running jobs counted."""
        return with_running_jobs(super().get_queryset(view))

    def editable(self, user) -> bool:
        """The admins of a cluster add pools (and edit them on their pages)."""
        return may_add(user, ServicePool)


class HostList(ListPage):
    """Hosts of the user's clusters."""

    viewset, table, title, section = HostViewSet, HOSTS, _("Hosts"), "hosts"
    filters = ("cluster", "pool", "provider", "status")
    choices = {"cluster": CLUSTER_CHOICES, "pool": POOL_CHOICES, "provider": PROVIDER_CHOICES}
    search = ("hostname", "instance_id")
    select_related = ("pool__cluster",)
    per_page = 50

    def pick(self, request) -> str:
        """Checkboxes for bulk actions when the user may scale some pool (guests get none)."""
        return "bulk-hosts" if ServicePool.objects.restrict(request.user, Action.SCALE).exists() else ""


class JobList(ListPage):
    """Scale jobs of the user's pools."""

    viewset, table, title, section = JobViewSet, JOBS, _("Jobs"), "jobs"
    filters, choices = ("cluster", "pool", "kind", "status"), {"cluster": CLUSTER_CHOICES, "pool": POOL_CHOICES}
    search = ("pool__name", "requested_by__username", "trigger", "message")


class ProviderList(ListPage):
    """Provider accounts."""

    viewset, table, title, section = CloudAccountViewSet, PROVIDERS, _("Providers"), "providers"
    filters, search = ("kind",), ("name", "region")
    add, edit = "console:provider-add", "console:provider-edit"

    def get_queryset(self, view):
        """The accounts; their endpoints (which may carry a user or a host name) for system administrators
        only, as in the API."""
        shown = F("endpoint_url") if view.request.user.is_system_admin else Value(None, output_field=CharField())
        return super().get_queryset(view).annotate(endpoint_shown=shown)


class TemplateList(ListPage):
    """Machine templates."""

    viewset, table, title, section = MachineTemplateViewSet, TEMPLATES, _("Templates"), "templates"
    filters, choices, search = ("provider", "init_method"), {"provider": PROVIDER_CHOICES}, ("name", "instance_type")
    add, edit = "console:template-add", "console:template-edit"


class MachineList(ListPage):
    """The physical inventory."""

    viewset, table, title, section = PhysicalMachineViewSet, MACHINES, _("Physical machines"), "machines"
    filters, choices = ("provider", "state", "machine_class", "idc"), {"provider": PROVIDER_CHOICES}
    search = ("hostname", "ip")
    add, edit = "console:physical-machine-add", "console:physical-machine-edit"
    bulk_import = "console:physical-machine-import"


class RegistryList(ListPage):
    """Container registries the hosts log in to."""

    viewset, table, title, section = RegistryViewSet, REGISTRIES, _("Registries"), "registries"
    search = ("name", "url")
    add, edit = "console:registry-add", "console:registry-edit"


class SSHKeyList(ListPage):
    """SSH keys DCP made for provider accounts and pools (public halves only)."""

    viewset, table, title, section = SSHKeyViewSet, SSH_KEYS, _("SSH keys"), "ssh-keys"
    filters, choices = ("account", "pool"), {"account": PROVIDER_CHOICES, "pool": POOL_CHOICES}
    search = ("fingerprint", "account__name", "pool__name")
    select_related = ("account", "pool")


class OrphanList(ListPage):
    """Instances found at a provider that DCP does not know (system administrators only)."""

    viewset, table, title, section = OrphanInstanceViewSet, ORPHANS, _("Orphans"), "orphans"
    filters, choices, search = ("provider", "state"), {"provider": PROVIDER_CHOICES}, ("instance_id", "name")


class AuditList(ListPage):
    """Who changed what, when."""

    viewset, table, title, section = AuditEntryViewSet, AUDIT, _("Audit log"), "audit"
    filters, choices = ("cluster", "action", "object_type"), {"cluster": CLUSTER_CHOICES}
    search = ("username", "object_repr")
