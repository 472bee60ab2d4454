"""REST API of initialization: SSH keys, registries, init runs, and re-running initialization."""

from __future__ import annotations

import re

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from apps.configuration import jobs, keys
from apps.configuration.choices import InitStatus
from apps.configuration.models import InitRun, Registry, SSHKey
from apps.core.api.fields import FullMatch
from apps.core.api.filters import BaseFilterSet, BooleanFilter, IdFilter, MultipleChoiceFilter
from apps.core.api.serializers import QuickRepresentationMixin, RestrictedModelSerializer, Serializer
from apps.core.api.views import CreateReadDeleteViewSet, ModelViewSet, ReadOnlyModelViewSet
from apps.provisioning.api import JobDetailSerializer


class SSHKeySerializer(RestrictedModelSerializer):
    """A key pair: DCP generates it unless a private key is given; the private key is never shown."""

    one_of_fields = ("account", "pool")

    private_key = serializers.CharField(
        write_only=True, required=False, trim_whitespace=False, max_length=20_000, style={"input_type": "password"}
    )
    bootstrap = serializers.SerializerMethodField(
        help_text="One line to run on a machine (as the user DCP logs in as) that adds this key to its "
        "authorized_keys: how a physical machine lets DCP in."
    )
    previous_fingerprint = serializers.SerializerMethodField(
        help_text="The key before the last rotation, still offered to hosts not initialized since; null if none."
    )

    class Meta:
        model = SSHKey
        fields = (
            "id",
            "account",
            "pool",
            "public_key",
            "fingerprint",
            "bootstrap",
            "rotated_at",
            "previous_fingerprint",
            "private_key",
            "created_at",
        )
        read_only_fields = ("public_key", "fingerprint", "rotated_at")

    def get_bootstrap(self, key) -> str:
        """The one-line command that authorizes this key on a machine."""
        return keys.bootstrap_command(key.public_key)

    def get_previous_fingerprint(self, key) -> str | None:
        """The previous key's fingerprint, while it is kept."""
        return keys.fingerprint(key.previous_public_key) if key.previous_public_key else None

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


class RotateSerializer(Serializer):
    """What a rotation may bring: the new private key, else DCP generates one."""

    private_key = serializers.CharField(
        required=False, trim_whitespace=False, max_length=20_000, style={"input_type": "password"}
    )


class SSHKeyViewSet(CreateReadDeleteViewSet):
    """Key pairs DCP logs in to hosts with; system administrators manage them."""

    queryset = SSHKey.objects.all()
    serializer_class = SSHKeySerializer
    filterset_fields = ("account", "pool")

    @extend_schema(request=RotateSerializer, responses={200: SSHKeySerializer})
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        """Replace the key pair; hosts get the new key at their next initialization (the previous one is
        offered until then, and removed from their authorized_keys by it)."""
        key = self.get_object()
        options = RotateSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        try:
            key = keys.rotate(key, request.user, options.validated_data.get("private_key", ""))
        except ValueError as exc:
            raise ValidationError({"private_key": [str(exc)]}) from None
        return Response(SSHKeySerializer(key, context=self.get_serializer_context()).data)


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


class DriftChangeSerializer(serializers.Serializer):
    """One difference a drift check found: the resource (Puppet) or task (Ansible), and its diff."""

    resource = serializers.CharField()
    diff = serializers.CharField(allow_blank=True, help_text="What differs (a unified diff, or old and new values).")


class InitRunSerializer(QuickRepresentationMixin, serializers.ModelSerializer):
    """One host's initialization run."""

    hostname = serializers.CharField(source="host.hostname", read_only=True)
    check = serializers.BooleanField(source="drift_check", read_only=True, help_text="Whether it was a drift check.")
    changes = DriftChangeSerializer(
        many=True, read_only=True, help_text="A drift check's differences from the base state (secrets removed)."
    )

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
            "check",
            "ok_tasks",
            "changed_tasks",
            "failed_tasks",
            "message",
            "output",
            "changes",
            "started_at",
            "finished_at",
            "duration_seconds",
        )
        read_only_fields = fields


class InitRunFilterSet(BaseFilterSet):
    """?host=&job=&status=&pool=."""

    status = MultipleChoiceFilter(choices=InitStatus.CHOICES)
    pool = IdFilter(field_name="host__pool")

    check = BooleanFilter(field_name="drift_check")

    class Meta:
        model = InitRun
        fields = ("host", "job", "status", "pool", "method", "rerun", "check")


class InitRunViewSet(ReadOnlyModelViewSet):
    """Initialization runs of the hosts of the user's clusters."""

    queryset = InitRun.objects.select_related("host")
    serializer_class = InitRunSerializer
    filterset_class = InitRunFilterSet


class RerunSerializer(Serializer):
    """What a re-run may ask for: a drift check instead, new host keys, only the drifted hosts."""

    check = serializers.BooleanField(
        default=False,
        help_text="A drift check: run in check mode (Ansible --check --diff, Puppet --noop), change nothing, and "
        "record on each host whether it is in its base state and what differs.",
    )
    forget_host_keys = serializers.BooleanField(
        default=False, help_text="The host was rebuilt: accept and record its new SSH host keys."
    )
    drifted = serializers.BooleanField(
        default=False,
        help_text="Only the hosts whose last drift check found them drifted (the others are skipped, saying so).",
    )


class SkippedHostSerializer(serializers.Serializer):
    """A host a re-run left alone, and why."""

    host = serializers.IntegerField()
    reason = serializers.CharField()


class InitJobSerializer(JobDetailSerializer):
    """The job a re-run or drift check started, with the runs it started and the hosts it left alone, and why."""

    runs = InitRunSerializer(many=True, read_only=True, source="started_runs")
    skipped = SkippedHostSerializer(many=True, read_only=True, source="skipped_hosts")

    class Meta(JobDetailSerializer.Meta):
        fields = (*JobDetailSerializer.Meta.fields, "runs", "skipped")
        read_only_fields = fields


def rerun(pool, hosts: list, user, options: dict, context: dict) -> dict:
    """Start initialization again (or a drift check) on the pool's given hosts as a job; the API's answer."""
    started = jobs.start(
        pool,
        hosts,
        user,
        check=options["check"],
        forget_host_keys=options["forget_host_keys"],
        only_drifted=options["drifted"],
    )
    job = started.job
    job.started_runs, job.skipped_hosts = started.runs, started.skipped
    return InitJobSerializer(job, context=context).data
