"""REST API of the inventory app: clusters, pools (and scaling), hosts, physical machines."""

from django.db import transaction
from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.validators import UniqueValidator

from apps.configuration.api import DriftChangeSerializer, InitJobSerializer, RerunSerializer, rerun
from apps.core.api.fields import StringMapField
from apps.core.api.parsers import CSVParser, JSONParser
from apps.core.api.schema import CONFLICT
from apps.core.api.serializers import QuickRepresentationMixin, RestrictedModelSerializer
from apps.core.api.views import ModelViewSet, ReadOnlyModelViewSet
from apps.core.choices import Action
from apps.core.exceptions import Conflict
from apps.core.query import count_related
from apps.costs.fields import GroupCostField, HostCostMixin
from apps.inventory import machines
from apps.inventory.choices import DriftState, HostStatus, MachineState
from apps.inventory.filtersets import HostFilterSet, PhysicalMachineFilterSet, ServicePoolFilterSet
from apps.inventory.models import HOST_PAGE_DEFERS, Cluster, Host, PhysicalMachine, PoolTemplate, ServicePool
from apps.providers.choices import ProviderKind
from apps.providers.models import CloudAccount, MachineTemplate
from apps.provisioning import services
from apps.provisioning.api import DryRunSerializer, JobDetailSerializer, ScaleSerializer

MAX_POOL_SIZE = 100_000
MAX_TEMPLATES = 50


class ClusterSerializer(RestrictedModelSerializer):
    """A business line, with its run-rate and cost this month."""

    costs = GroupCostField("cluster", help_text="Run-rate per hour and cost this month, in DCP_CURRENCY.")

    class Meta:
        model = Cluster
        fields = ("id", "name", "description", "costs", "created_at", "updated_at")


class ClusterViewSet(ModelViewSet):
    """Clusters the user is a member of; system administrators create them, cluster admins edit them."""

    queryset = Cluster.objects.all()
    serializer_class = ClusterSerializer
    filterset_fields = ("name",)


@extend_schema_field(
    {"type": "array", "items": {"type": "integer", "minimum": 1}, "maxItems": MAX_TEMPLATES, "uniqueItems": True}
)
class TemplateOrderField(serializers.ListField):
    """The pool's template ids in priority order (read from its ordered links)."""

    def get_attribute(self, pool):
        """Ids in priority order."""
        return [link.template_id for link in pool.template_links.all()]


class ServicePoolSerializer(RestrictedModelSerializer):
    """A service pool. ``templates`` is the placement order; sizes other than min/max are read-only."""

    templates = TemplateOrderField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=MAX_TEMPLATES
    )
    size = serializers.IntegerField(read_only=True, help_text="Hosts not terminated.")
    ready = serializers.IntegerField(read_only=True, help_text="Hosts ready.")
    costs = GroupCostField("pool", help_text="Run-rate per hour and cost this month, in DCP_CURRENCY.")

    class Meta:
        model = ServicePool
        fields = (
            "id",
            "cluster",
            "name",
            "description",
            "templates",
            "min_size",
            "max_size",
            "desired_size",
            "size",
            "ready",
            "costs",
            "drift_check_interval",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("desired_size",)
        extra_kwargs = {
            "min_size": {"max_value": MAX_POOL_SIZE},
            "max_size": {"max_value": MAX_POOL_SIZE},
            "drift_check_interval": {"min_value": 1, "max_value": 8760},
        }
        # The name's uniqueness in its cluster is checked in validate(), with a message on "name".
        validators: list = []

    def to_representation(self, pool):
        """Counts from annotations when present (lists), else counted for this pool."""
        data = super().to_representation(pool)
        if not hasattr(pool, "size"):
            counts = pool_counts(ServicePool.objects.filter(pk=pool.pk)).get()
            data["size"], data["ready"] = counts.size, counts.ready
        return data

    def validate_cluster(self, cluster):
        """A pool stays in the cluster it was made in."""
        if self.instance is not None and cluster.pk != self.instance.cluster_id:
            raise serializers.ValidationError("A pool cannot move to another cluster.")
        return cluster

    def validate_templates(self, ids):
        """Known templates, each once."""
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("Each template may appear only once.")
        found = set(MachineTemplate.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = [str(i) for i in ids if i not in found]
        if missing:
            raise serializers.ValidationError(f"No template with id {', '.join(missing)}.")
        return ids

    def validate(self, attrs):
        """min <= max, the current desired size within them, templates for a non-empty pool."""
        current = self.instance
        min_size = attrs.get("min_size", current.min_size if current else 0)
        max_size = attrs.get("max_size", current.max_size if current else 10)
        if min_size > max_size:
            raise serializers.ValidationError(
                {"min_size": [f"The min_size {min_size} is above max_size {max_size}: lower one or raise the other."]}
            )
        if current is not None:
            if current.desired_size > max_size:
                message = f"The pool's desired_size is {current.desired_size}: scale in first, then lower max_size."
                raise serializers.ValidationError({"max_size": [message]})
            if current.desired_size < min_size:
                message = f"The pool's desired_size is {current.desired_size}: scale out first, then raise min_size."
                raise serializers.ValidationError({"min_size": [message]})
        templates = attrs.get("templates", None if current else [])
        if templates is not None and min_size > 0 and not templates:
            raise serializers.ValidationError({"templates": ["A pool with min_size above 0 needs templates."]})
        cluster = attrs.get("cluster", current.cluster if current else None)
        name = attrs.get("name", current.name if current else None)
        taken = ServicePool.objects.filter(cluster=cluster, name=name)
        if current is not None:
            taken = taken.exclude(pk=current.pk)
        if cluster is not None and taken.exists():
            raise serializers.ValidationError(
                {"name": [f"Cluster {cluster} already has a pool {name}."]}, code="unique"
            )
        return attrs

    def create(self, validated_data):
        """Create at desired_size = min_size."""
        templates = validated_data.pop("templates", [])
        pool = ServicePool.objects.create(desired_size=validated_data.get("min_size", 0), **validated_data)
        _set_templates(pool, templates)
        return pool

    def update(self, pool, validated_data):
        """Update; a templates list replaces the order."""
        templates = validated_data.pop("templates", None)
        pool = super().update(pool, validated_data)
        if templates is not None:
            _set_templates(pool, templates)
        return pool


def _set_templates(pool: ServicePool, ids: list[int]) -> None:
    pool.template_links.all().delete()
    PoolTemplate.objects.bulk_create(
        [PoolTemplate(pool=pool, template_id=template_id, priority=i) for i, template_id in enumerate(ids)]
    )


def pool_counts(queryset):
    """Annotate pools with size (hosts not terminated) and ready, counted for the rows fetched only."""
    return queryset.annotate(
        size=count_related(Host, "pool", ~Q(status=HostStatus.TERMINATED)),
        ready=count_related(Host, "pool", Q(status=HostStatus.READY)),
    )


JOB_LOCATION = OpenApiParameter("Location", str, OpenApiParameter.HEADER, response=[202], description="The job's URL.")


class ServicePoolViewSet(ModelViewSet):
    """Pools of the user's clusters; admins manage them, developers and admins scale them."""

    queryset = pool_counts(ServicePool.objects.select_related("cluster")).prefetch_related("template_links")
    serializer_class = ServicePoolSerializer
    filterset_class = ServicePoolFilterSet

    def get_object_action(self):
        """Scaling needs the scale role; a change of the template order alone operating the pool (cluster
        admins, the pool's admins); other writes the cluster admin role."""
        if self.action in ("scale", "initialize"):
            return Action.SCALE
        if (
            self.action == "partial_update"
            and isinstance(self.request.data, dict)
            and set(self.request.data) == {"templates"}
        ):
            return Action.OPERATE
        return Action.CHANGE

    object_action = property(get_object_action)
    write_action = property(get_object_action)

    def perform_create(self, serializer):
        """Create the pool and, if it has a min_size, the job that fills it."""
        with transaction.atomic():
            super().perform_create(serializer)
            services.start_pool(serializer.instance, self.request.user)

    @extend_schema(
        request=ScaleSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="The same key again (with the same body) answers the same job instead of a new one.",
            ),
            OpenApiParameter("Location", str, OpenApiParameter.HEADER, response=[202], description="The job's URL."),
            OpenApiParameter(
                "Idempotent-Replayed",
                str,
                OpenApiParameter.HEADER,
                response=[202],
                enum=["true"],
                description="Present when the answer is the job an earlier request with this key made.",
            ),
        ],
        responses={
            202: JobDetailSerializer,
            200: OpenApiResponse(DryRunSerializer, description="Dry run: the plan; nothing changed."),
            409: CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    def scale(self, request, pk=None):
        """Change the pool's size; answers 202 with the job at once."""
        pool = self.get_object()
        serializer = ScaleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 255 or not key.isprintable():
            raise ValidationError({"Idempotency-Key": ["Use at most 255 printable characters (e.g. a UUID)."]})
        override = serializer.validated_data["override_budget"]
        if override and not ServicePool.objects.restrict(request.user, Action.CHANGE).filter(pk=pool.pk).exists():
            raise PermissionDenied("Only the cluster's admins may override a budget.")
        result = services.scale(
            pool.pk,
            request.user,
            serializer.to_request(),
            idempotency_key=key,
            dry=serializer.validated_data["dry_run"],
            override_budget=override,
        )
        if result.dry_run is not None:
            return Response(result.dry_run, status=status.HTTP_200_OK)
        data = JobDetailSerializer(result.job, context=self.get_serializer_context()).data
        headers = {"Location": f"/api/v1/jobs/{result.job.pk}/"}
        if result.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(data, status=status.HTTP_202_ACCEPTED, headers=headers)

    @extend_schema(request=RerunSerializer, responses={202: InitJobSerializer}, parameters=[JOB_LOCATION])
    @action(detail=True, methods=["post"])
    def initialize(self, request, pk=None):
        """Run initialization again (or a drift check) on every ready host of the pool; 202 with the job."""
        pool = self.get_object()
        options = RerunSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        hosts = list(pool.hosts.filter(status=HostStatus.READY).select_related("template").order_by("pk"))
        answer = rerun(pool, hosts, request.user, options.validated_data, self.get_serializer_context())
        return Response(answer, status=status.HTTP_202_ACCEPTED, headers={"Location": f"/api/v1/jobs/{answer['id']}/"})


class DriftSerializer(serializers.Serializer):
    """Whether a host was in its base state when last checked (or initialized), and what differed."""

    state = serializers.ChoiceField(choices=DriftState.CHOICES, source="drift_state")
    checked_at = serializers.DateTimeField(source="drift_checked_at", allow_null=True)
    summary = DriftChangeSerializer(many=True, source="drift_summary", help_text="What differed (secrets removed).")


class HostSerializer(QuickRepresentationMixin, HostCostMixin, serializers.ModelSerializer):
    """A host. Hosts are made and removed by scaling, so every field is read-only."""

    cluster = serializers.IntegerField(source="pool.cluster_id", read_only=True)
    drift = DriftSerializer(source="*", read_only=True)

    class Meta:
        model = Host
        fields = (
            "id",
            "hostname",
            "pool",
            "cluster",
            "provider",
            "template",
            "job",
            "instance_id",
            "private_ip",
            "public_ip",
            "cpu",
            "memory_gb",
            "zone",
            "status",
            "status_message",
            "drift",
            "hourly_price",
            "currency",
            "cost",
            "unpriced_hours",
            "created_at",
            "launched_at",
            "ready_at",
            "terminated_at",
            "updated_at",
        )
        read_only_fields = fields


class HostViewSet(ReadOnlyModelViewSet):
    """Hosts of the user's clusters."""

    queryset = Host.objects.select_related("pool", "provider", "template").defer(*HOST_PAGE_DEFERS)
    serializer_class = HostSerializer
    filterset_class = HostFilterSet
    object_action = Action.SCALE
    #: Orderings a member's list sorts instead of walking their index (apps.core.api.filters.sorted_not_walked).
    sorted_for_members = ("hostname",)

    @extend_schema(request=RerunSerializer, responses={202: InitJobSerializer}, parameters=[JOB_LOCATION])
    @action(detail=True, methods=["post"])
    def initialize(self, request, pk=None):
        """Run initialization again (or a drift check) on this ready host (developers and admins); 202 with the job."""
        host = self.get_object()
        options = RerunSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        answer = rerun(host.pool, [host], request.user, options.validated_data, self.get_serializer_context())
        return Response(answer, status=status.HTTP_202_ACCEPTED, headers={"Location": f"/api/v1/jobs/{answer['id']}/"})


class AccountIdField(serializers.PrimaryKeyRelatedField):
    """A provider account by id, looked up among accounts read once (an import's rows share them)."""

    def __init__(self, accounts, **kwargs):
        super().__init__(**kwargs)
        self.accounts = accounts

    def to_internal_value(self, data):
        """The account with this id, with PrimaryKeyRelatedField's errors."""
        if not hasattr(self, "_by_id"):
            self._by_id = {account.pk: account for account in self.accounts}
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        text = str(data).strip()
        if not (text.isascii() and text.isdigit()):
            self.fail("incorrect_type", data_type=type(data).__name__)
        account = self._by_id.get(int(text))
        if account is None:
            self.fail("does_not_exist", pk_value=data)
        return account


class PhysicalMachineSerializer(RestrictedModelSerializer):
    """A physical machine. ``state`` may be set to free or maintenance; allocation is done by scaling."""

    provider = serializers.PrimaryKeyRelatedField(queryset=CloudAccount.objects.all())
    tags = StringMapField(read_only=True, help_text="While allocated: DCP's tags of the host it carries.")

    class Meta:
        model = PhysicalMachine
        fields = (
            "id",
            "provider",
            "hostname",
            "ip",
            "cpu",
            "memory_gb",
            "machine_class",
            "idc",
            "rack",
            "monthly_cost",
            "state",
            "tags",
            "allocated_at",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("tags", "allocated_at")
        extra_kwargs = {"cpu": {"max_value": 4096}}

    def get_fields(self):
        """In an import, the provider accounts are read once and uniqueness is checked for all rows together."""
        fields = super().get_fields()
        if self.context.get("bulk_import"):
            request = self.context["request"]
            fields["provider"] = AccountIdField(
                CloudAccount.objects.restrict(request.user, Action.VIEW), queryset=CloudAccount.objects.none()
            )
            for column in machines.UNIQUE_COLUMNS:
                fields[column].validators = [v for v in fields[column].validators if not isinstance(v, UniqueValidator)]
        return fields

    def validate_provider(self, provider):
        """Machines belong to a physical provider account."""
        if provider.kind != ProviderKind.PHYSICAL:
            raise serializers.ValidationError(
                f"Provider {provider.name} is a {provider.kind} account; machines belong to a physical one."
            )
        return provider

    def validate_state(self, state):
        """Allocation belongs to the engine."""
        return machines.check_state_change(self.instance, state)

    def validate(self, attrs):
        """An allocated machine keeps its class and provider until it is freed."""
        if self.instance is not None and self.instance.state == MachineState.ALLOCATED:
            changed = [
                k
                for k in ("provider", "machine_class", "cpu", "memory_gb", "ip")
                if k in attrs and attrs[k] != getattr(self.instance, k)
            ]
            if changed:
                raise serializers.ValidationError(
                    {changed[0]: ["This machine is allocated to a pool; scale that host in before changing it."]}
                )
        return attrs


class PhysicalMachineViewSet(ModelViewSet):
    """The physical inventory: every user may list it, system administrators manage it."""

    queryset = PhysicalMachine.objects.select_related("provider")
    serializer_class = PhysicalMachineSerializer
    filterset_class = PhysicalMachineFilterSet

    @extend_schema(responses={204: None, 409: CONFLICT})
    def destroy(self, request, *args, **kwargs):
        """Delete a machine that is not allocated."""
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        """An allocated machine cannot be deleted: a conflict with its state, answered 409."""
        if instance.state == MachineState.ALLOCATED:
            raise Conflict("This machine is allocated to a pool; scale that host in first.", field="state")
        super().perform_destroy(instance)

    @extend_schema(
        request=PhysicalMachineSerializer(many=True),
        responses={201: PhysicalMachineSerializer(many=True)},
        description="Register many machines at once (JSON list or CSV with a header row); all or nothing.",
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[JSONParser, CSVParser],
        filter_backends=[],
        pagination_class=None,
    )
    def bulk_import(self, request):
        """Import machines from a JSON list or a CSV body; every row is checked before any is saved."""
        rows = machines.rows_from_request(request)
        created = machines.import_machines(rows, PhysicalMachineSerializer, self.get_serializer_context())
        data = PhysicalMachineSerializer(created, many=True, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)
