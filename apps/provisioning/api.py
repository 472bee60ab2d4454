"""REST API of the provisioning app: scale requests and jobs."""

from django.db.models import Count, Q
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.configuration.choices import InitStatus
from apps.configuration.models import InitRun
from apps.core.api.filters import BaseFilterSet, IdFilter, MultipleChoiceFilter
from apps.core.api.schema import CONFLICT
from apps.core.api.serializers import QuickRepresentationMixin, Serializer, refuse_body
from apps.core.api.views import ReadOnlyModelViewSet
from apps.core.choices import Action
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.provisioning import services
from apps.provisioning.choices import JobKind, JobStatus
from apps.provisioning.models import Job, JobEvent
from apps.provisioning.timeline import host_timelines

MAX_DELTA = 100_000


@extend_schema_field({"type": "integer", "minimum": -MAX_DELTA, "maximum": MAX_DELTA, "not": {"enum": [0]}})
class DeltaField(serializers.IntegerField):
    """Hosts to add (positive) or remove (negative); never 0."""


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "integer", "minimum": 1},
        "minItems": 1,
        "maxItems": 10_000,
        "uniqueItems": True,
    }
)
class HostIdsField(serializers.ListField):
    """Ids of the pool's hosts to remove, each once."""


class ScaleSerializer(Serializer):
    """A scale request: exactly one of delta, desired_size or hosts."""

    one_of_fields = ("delta", "desired_size", "hosts")

    delta = DeltaField(required=False, min_value=-MAX_DELTA, max_value=MAX_DELTA)
    desired_size = serializers.IntegerField(required=False, min_value=0, max_value=MAX_DELTA)
    hosts = HostIdsField(
        child=serializers.IntegerField(min_value=1), required=False, allow_empty=False, max_length=10_000
    )
    dry_run = serializers.BooleanField(required=False, default=False)
    override_budget = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Cluster admins: go ahead even if the forecast passes an enforced budget (audited).",
    )

    def validate_delta(self, value):
        """Zero changes nothing."""
        if value == 0:
            raise serializers.ValidationError(
                "A delta of 0 changes nothing: give a positive number to add hosts, a negative one to remove them."
            )
        return value

    def validate_hosts(self, value):
        """Each host once."""
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Each host id may appear only once.")
        return value

    def validate(self, attrs):
        """Exactly one way of saying the new size."""
        given = [key for key in ("delta", "desired_size", "hosts") if key in attrs]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"non_field_errors": ['Give exactly one of "delta", "desired_size" or "hosts".']}
            )
        return attrs

    def to_request(self) -> services.ScaleRequest:
        """The service-level request."""
        data = self.validated_data
        return services.ScaleRequest(
            delta=data.get("delta"), desired_size=data.get("desired_size"), hosts=tuple(data.get("hosts", ()))
        )


class PlacementSerializer(serializers.Serializer):
    """How many hosts one template gets in a scale-out plan."""

    template = serializers.IntegerField()
    template_name = serializers.CharField()
    provider = serializers.CharField(help_text="The provider account's name.")
    zone = serializers.CharField(allow_blank=True)
    count = serializers.IntegerField()


class PlanSerializer(serializers.Serializer):
    """A scale-out plan: placements, hosts that could not be placed, and why."""

    placements = PlacementSerializer(many=True)
    shortfall = serializers.IntegerField(help_text="Hosts the plan could not place.")
    notes = serializers.ListField(child=serializers.CharField())


@extend_schema_field(PlanSerializer(many=True))
class PlansField(serializers.JSONField):
    """The plans a job was carried out by: one per reconciler pass that placed hosts."""


class RemovalSerializer(serializers.Serializer):
    """A host a scale-in would remove."""

    host = serializers.IntegerField()
    hostname = serializers.CharField()
    status = serializers.ChoiceField(choices=HostStatus.CHOICES)


class RemovalPlanSerializer(serializers.Serializer):
    """A scale-in plan: the hosts that would go, in order."""

    remove = RemovalSerializer(many=True)


class BudgetFiguresSerializer(serializers.Serializer):
    """A budget covering the pool: its forecast, what the scale-out adds, and where that takes it."""

    budget = serializers.IntegerField()
    name = serializers.CharField(allow_blank=True)
    enforce = serializers.BooleanField()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    amount = serializers.DecimalField(max_digits=20, decimal_places=4)
    currency = serializers.CharField()
    forecast = serializers.DecimalField(max_digits=20, decimal_places=4, help_text="The period's forecast now.")
    adds = serializers.DecimalField(max_digits=20, decimal_places=4, help_text="What this scale-out adds to it.")
    forecast_after = serializers.DecimalField(max_digits=20, decimal_places=4)
    percent_after = serializers.DecimalField(max_digits=20, decimal_places=2)
    unpriced_hosts = serializers.IntegerField(help_text="New hosts with no known price (not in adds).")
    over = serializers.BooleanField(help_text="forecast_after passes amount: refused if enforce, unless overridden.")


class DryRunSerializer(serializers.Serializer):
    """What a scale request would do (``"dry_run": true``): nothing is changed."""

    dry_run = serializers.BooleanField()
    budgets = BudgetFiguresSerializer(many=True, required=False, help_text="Scale-outs: the budgets covering the pool.")
    pool = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=JobKind.CHOICES)
    delta = serializers.IntegerField()
    desired_before = serializers.IntegerField()
    desired_after = serializers.IntegerField()
    plan = serializers.SerializerMethodField()

    @extend_schema_field(PolymorphicProxySerializer("ScalePlan", [PlanSerializer, RemovalPlanSerializer], None))
    def get_plan(self, answer) -> dict:
        """A scale-out's placements, or the hosts a scale-in would remove."""
        return answer["plan"]


class JobEventSerializer(QuickRepresentationMixin, serializers.ModelSerializer):
    """One step of a job's timeline."""

    hostname = serializers.CharField(source="host.hostname", default=None, read_only=True, allow_null=True)

    class Meta:
        model = JobEvent
        fields = ("time", "kind", "host", "hostname", "message")


class HostStepSerializer(serializers.Serializer):
    """One step of a host: what happened, when, and seconds since its previous step."""

    kind = serializers.CharField()
    time = serializers.DateTimeField()
    seconds = serializers.FloatField()


class HostTimelineSerializer(serializers.Serializer):
    """A host's steps in a job, and the seconds from requested to ready (removed, for a scale-in)."""

    host = serializers.IntegerField()
    hostname = serializers.CharField()
    status = serializers.CharField()
    zone = serializers.CharField()
    template = serializers.IntegerField(allow_null=True)
    steps = HostStepSerializer(many=True)
    total_seconds = serializers.FloatField(allow_null=True)


class ProgressSerializer(serializers.Serializer):
    """How far a job is: hosts asked for, made ready (scale-out), removed (scale-in) or done (re-run, check)."""

    total = serializers.IntegerField(
        help_text="Hosts the job adds (scale-out) or removes (scale-in); initialize and check: hosts it runs on."
    )
    ready = serializers.IntegerField(
        help_text="Scale-out: its hosts that became ready. Scale-in: 0. Initialize: hosts initialized again; "
        "check: hosts checked (drifted or not)."
    )
    removed = serializers.IntegerField(help_text="Scale-in: hosts it removed (terminated). Others: 0.")
    failed = serializers.IntegerField(
        help_text="Scale-out: its hosts that failed (each is replaced while the job runs). Once the job ended "
        "failed or partial, at least the hosts it asked for and did not get (or did not remove). Initialize and "
        "check: hosts whose run failed or could not reach them (once the job ended, every run that did not end well)."
    )
    drifted = serializers.IntegerField(help_text="Check: hosts found drifted from their base state. Others: 0.")


#: Run statuses of hosts a re-run or check did not get through.
NOT_REACHED = (InitStatus.FAILED, InitStatus.UNREACHABLE)


#: What count_progress() sets on each job, each a count of hosts or runs.
PROGRESS_COUNTS = ("n_ready", "n_failed", "n_removed", "n_runs", "n_runs_ok", "n_runs_failed", "n_drifted")


def _grouped(rows, field: str, **counts) -> list[dict]:
    return list(rows.order_by().values(field).annotate(**counts))


def count_progress(jobs: list) -> None:
    """Set on each job the counts its progress is made of (``PROGRESS_COUNTS``), each kind's own, with one
    grouped statement per kind of job present: a scale-out's hosts made ready or failed, a scale-in's hosts
    removed, an initialize's or check's runs. The seven correlated subqueries they replace cost a list of
    jobs about 2 ms to plan alone."""
    if not jobs:
        return
    for job in jobs:
        for name in PROGRESS_COUNTS:
            setattr(job, name, 0)
    by_pk = {job.pk: job for job in jobs}
    init = [job.pk for job in jobs if job.kind in JobKind.INIT]
    removing = [job.pk for job in jobs if job.kind == JobKind.SCALE_IN]
    making = [job.pk for job in jobs if job.kind not in JobKind.INIT and job.kind != JobKind.SCALE_IN]
    found = []
    if making:
        found += _grouped(
            Host.objects.filter(job__in=making),
            "job",
            n_ready=Count("pk", filter=Q(ready_at__isnull=False)),
            n_failed=Count("pk", filter=Q(failed_at__isnull=False)),
        )
    if removing:
        hosts = Host.objects.filter(removal_job__in=removing, status=HostStatus.TERMINATED)
        removed = _grouped(hosts, "removal_job", n_removed=Count("pk"))
        found += [{"job": row.pop("removal_job"), **row} for row in removed]
    if init:
        found += _grouped(
            InitRun.objects.filter(job__in=init, rerun=True),
            "job",
            n_runs=Count("pk"),
            n_runs_ok=Count("pk", filter=Q(status__in=InitStatus.SUCCEEDED)),
            n_runs_failed=Count("pk", filter=Q(status__in=NOT_REACHED)),
            n_drifted=Count("pk", filter=Q(drift_check=True, status=InitStatus.CHANGED)),
        )
    for row in found:
        job = by_pk[row.pop("job")]
        for name, value in row.items():
            setattr(job, name, value)


def progress(job) -> dict:
    """A job's progress from its counts (see ProgressSerializer); an ended job that fell short counts the shortfall."""
    if job.kind in JobKind.INIT:
        # Its runs: ended well (for a check: checked, drifted or not), failed; a cancelled job's unfinished runs fail.
        failed = job.n_runs - job.n_runs_ok if job.status in JobStatus.TERMINAL else job.n_runs_failed
        return {"total": job.n_runs, "ready": job.n_runs_ok, "removed": 0, "failed": failed, "drifted": job.n_drifted}
    if job.kind == JobKind.SCALE_IN:
        ready, removed, failed = 0, min(job.n_removed, job.size), 0
        done = removed
    else:
        ready, removed, failed = min(job.n_ready, job.size), 0, job.n_failed
        done = ready
    if job.status in (JobStatus.FAILED, JobStatus.PARTIAL):
        failed = max(failed, job.size - done)
    return {"total": job.size, "ready": ready, "removed": removed, "failed": failed, "drifted": 0}


class JobSerializer(QuickRepresentationMixin, serializers.ModelSerializer):
    """A scale job with its progress, as lists show it (no timeline: see JobDetailSerializer)."""

    cluster = serializers.IntegerField(source="pool.cluster_id", read_only=True)
    requested_by = serializers.CharField(
        source="requested_by.username",
        default=None,
        read_only=True,
        allow_null=True,
        help_text="Who asked for the job; null once that user is deleted.",
    )
    plan = PlansField(read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = (
            "id",
            "pool",
            "cluster",
            "kind",
            "delta",
            "status",
            "progress",
            "desired_before",
            "desired_after",
            "message",
            "plan",
            "requested_by",
            "trigger",
            "idempotency_key",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
        )
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, job) -> dict:
        """total / ready / removed / failed (see ProgressSerializer)."""
        if not hasattr(job, "n_ready"):
            count_progress([job])
        return progress(job)


class JobDetailSerializer(JobSerializer):
    """A scale job with its event timeline and each host's steps (one job's detail, and a scale's answer)."""

    events = serializers.SerializerMethodField()
    hosts = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = (*JobSerializer.Meta.fields[:-4], "events", "hosts", *JobSerializer.Meta.fields[-4:])
        read_only_fields = fields

    @extend_schema_field(JobEventSerializer(many=True))
    def get_events(self, job) -> list:
        """The job's timeline."""
        return JobEventSerializer(job.events.select_related("host"), many=True).data

    @extend_schema_field(HostTimelineSerializer(many=True))
    def get_hosts(self, job) -> list:
        """Each host's timeline with durations."""
        return HostTimelineSerializer(host_timelines(job), many=True).data


class JobFilterSet(BaseFilterSet):
    """?pool=&cluster=&kind=&status=."""

    cluster = IdFilter(field_name="pool__cluster")
    status = MultipleChoiceFilter(choices=JobStatus.CHOICES)

    class Meta:
        model = Job
        fields = ("pool", "cluster", "kind", "status")


class JobViewSet(ReadOnlyModelViewSet):
    """Scale jobs of the pools the user may see; developers and admins may cancel them."""

    queryset = Job.objects.with_progress().select_related("pool", "requested_by")
    serializer_class = JobSerializer
    filterset_class = JobFilterSet
    object_action = Action.SCALE

    def get_serializer_class(self):
        """Lists leave out each job's timeline to stay light; one job's detail carries it."""
        return JobSerializer if self.action == "list" else JobDetailSerializer

    @extend_schema(request=None, responses={200: JobDetailSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a pending or running job."""
        job = self.get_object()
        refuse_body(request.data)
        job = services.cancel(job.pk, request.user)
        return Response(JobDetailSerializer(job, context=self.get_serializer_context()).data)
