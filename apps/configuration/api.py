"""REST API of initialization: SSH keys, registries, init runs, and re-running initialization."""

from __future__ import annotations

import re

from django.db import transaction
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from apps.configuration import keys, services
from apps.configuration.choices import InitStatus
from apps.configuration.models import InitRun, Registry, SSHKey
from apps.configuration.runners import needs_run
from apps.core import audit
from apps.core.api.fields import FullMatch
from apps.core.api.filters import BaseFilterSet, IdFilter, MultipleChoiceFilter
from apps.core.api.serializers import RestrictedModelSerializer, Serializer
from apps.core.api.views import CreateReadDeleteViewSet, ModelViewSet, ReadOnlyModelViewSet
from apps.core.models import AuditAction
from apps.inventory.choices import HostStatus
from dcp.celery import app


class SSHKeySerializer(RestrictedModelSerializer):
    """A key pair: DCP generates it unless a private key is given; the private key is never shown."""

    one_of_fields = ("account", "pool")

    private_key = serializers.CharField(
        write_only=True, required=False, trim_whitespace=False, max_length=20_000, style={"input_type": "password"}
    )

    class Meta:
        model = SSHKey
        fields = ("id", "account", "pool", "public_key", "fingerprint", "private_key", "created_at")
        read_only_fields = ("public_key", "fingerprint")

    def validate(self, attrs):
        """One owner: an account or a pool, which has no key yet."""
        account, pool = attrs.get("account"), attrs.get("pool")
        if (account is None) == (pool is None):
            raise ValidationError({"account": ["Give either account or pool (the key's owner), not both."]})
        if account is not None and SSHKey.objects.filter(account=account).exists():
            raise ValidationError(
                {"account": [f"Account {account.name} has a key; delete it first to replace it."]}, code="unique"
            )
        if pool is not None and SSHKey.objects.filter(pool=pool).exists():
            raise ValidationError({"pool": [f"Pool {pool} has a key; delete it first to replace it."]}, code="unique")
        try:
            key = keys.new_key(account=account, pool=pool, private_key=attrs.get("private_key", ""))
        except ValueError as exc:
            raise ValidationError({"private_key": [str(exc)]}) from None
        attrs.update(private_key=key.private_key, public_key=key.public_key, fingerprint=key.fingerprint)
        return attrs


class SSHKeyViewSet(CreateReadDeleteViewSet):
    """Key pairs DCP logs in to hosts with; system administrators manage them."""

    queryset = SSHKey.objects.all()
    serializer_class = SSHKeySerializer
    filterset_fields = ("account", "pool")


#: A mirror's URL: http(s), no spaces or control characters.
MIRROR_URL = r"^https?://[^\x00-\x20\x7f]+$"
MIRROR_HELP = "Give the mirror as a URL, e.g. https://mirror.example.com:5000."


@extend_schema_field(
    {
        "type": "object",
        "description": "IDC name (not empty) → the mirror's URL.",
        "properties": {"": {"not": {}}},  # OpenAPI 3.0 has no propertyNames: the empty name is ruled out this way
        "additionalProperties": {"type": "string", "pattern": MIRROR_URL},
    }
)
class MirrorsField(serializers.JSONField):
    """IDC name → the URL of the registry's mirror there."""


class RegistrySerializer(RestrictedModelSerializer):
    """A private registry; the password is write-only and kept encrypted."""

    mirrors = MirrorsField(required=False, help_text="IDC (zone) → mirror URL of its replica.")
    default_mirror = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=255,
        trim_whitespace=False,
        validators=[FullMatch(MIRROR_URL, MIRROR_HELP)],
        help_text="Mirror for IDCs without their own; empty for none.",
    )
    password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=1000, style={"input_type": "password"}
    )
    has_password = serializers.SerializerMethodField()

    class Meta:
        model = Registry
        fields = (
            "id",
            "name",
            "url",
            "mirrors",
            "default_mirror",
            "insecure",
            "username",
            "password",
            "has_password",
            "created_at",
            "updated_at",
        )

    def get_has_password(self, registry) -> bool:
        """Whether a password is set (it is never shown)."""
        return bool(registry.password)

    def validate_mirrors(self, value):
        """IDC name → mirror URL."""
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and k and isinstance(v, str) and re.fullmatch(MIRROR_URL, v) for k, v in value.items()
        ):
            raise ValidationError('Give an object of IDC → mirror URL, e.g. {"idc-bj": "https://mirror.bj:5000"}.')
        return value


class RegistryViewSet(ModelViewSet):
    """Private registries; system administrators manage them."""

    queryset = Registry.objects.all()
    serializer_class = RegistrySerializer
    filterset_fields = ("name",)


class InitRunSerializer(serializers.ModelSerializer):
    """One host's initialization run."""

    hostname = serializers.CharField(source="host.hostname", read_only=True)

    class Meta:
        model = InitRun
        fields = (
            "id",
            "host",
            "hostname",
            "job",
            "method",
            "status",
            "attempt",
            "rerun",
            "ok_tasks",
            "changed_tasks",
            "failed_tasks",
            "message",
            "output",
            "started_at",
            "finished_at",
            "duration_seconds",
        )
        read_only_fields = fields


class InitRunFilterSet(BaseFilterSet):
    """?host=&job=&status=&pool=."""

    status = MultipleChoiceFilter(choices=InitStatus.CHOICES)
    pool = IdFilter(field_name="host__pool")

    class Meta:
        model = InitRun
        fields = ("host", "job", "status", "pool", "method", "rerun")


class InitRunViewSet(ReadOnlyModelViewSet):
    """Initialization runs of the hosts of the user's clusters."""

    queryset = InitRun.objects.select_related("host")
    serializer_class = InitRunSerializer
    filterset_class = InitRunFilterSet


class RerunSerializer(Serializer):
    """What a re-run may ask for."""

    forget_host_keys = serializers.BooleanField(
        default=False, help_text="The host was rebuilt: accept and record its new SSH host keys."
    )


class SkippedHostSerializer(serializers.Serializer):
    """A host a re-run left alone, and why."""

    host = serializers.IntegerField()
    reason = serializers.CharField()


class RerunAnswerSerializer(serializers.Serializer):
    """The runs a re-run started, and the hosts it left alone with why."""

    runs = InitRunSerializer(many=True)
    skipped = SkippedHostSerializer(many=True)


def rerun(hosts: list, user, forget_host_keys: bool = False) -> dict:
    """Start initialization again on ready hosts; answers the runs started and the hosts skipped."""
    eligible = [h for h in hosts if h.status == HostStatus.READY and needs_run(h)]
    if not eligible:
        raise ValidationError(
            {
                "hosts": [
                    gettext("Only ready hosts whose template has an init method (ansible or puppet) can be re-run.")
                ]
            }
        )
    with transaction.atomic():
        if forget_host_keys:
            for host in eligible:
                services.forget_host_keys(host)
        runs = services.claim(services.load([h.pk for h in eligible]), rerun=True)
        for run in runs:
            audit.record(user, AuditAction.UPDATE, run.host, None, {"initialization": "re-run", "run": run.pk})
        if runs:
            ids = [r.pk for r in runs]
            transaction.on_commit(lambda: app.send_task("apps.configuration.tasks.run_initialization", args=[ids]))
    started = {run.host_id for run in runs}
    return {
        "runs": InitRunSerializer(runs, many=True).data,
        "skipped": [
            {"host": h.pk, "reason": "initialization already running" if h in eligible else "not ready"}
            for h in hosts
            if h.pk not in started
        ],
    }
