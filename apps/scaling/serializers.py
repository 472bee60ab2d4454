"""API serializers of scaling schedules, policies, and their history."""

from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api.serializers import RestrictedModelSerializer
from apps.scaling import policies, timing
from apps.scaling.models import PolicyTrigger, ScalingPolicy, ScalingSchedule, ScheduleOccurrence

MAX_SIZE = 100_000
MAX_SECONDS = 7 * 24 * 3600
MAX_PERCENT = 1000


def _current(serializer, attrs: dict, name: str):
    """A field's value after this write: the one given, else the stored one (updates), else None."""
    if name in attrs:
        return attrs[name]
    return getattr(serializer.instance, name, None) if serializer.instance is not None else None


def _unique_name(serializer, model, pool, name) -> None:
    """A name is used once per pool (409 when taken)."""
    taken = model.objects.filter(pool=pool, name=name)
    if serializer.instance is not None:
        taken = taken.exclude(pk=serializer.instance.pk)
    if pool is not None and taken.exists():
        message = gettext("Pool %(pool)s already has one named %(name)s.") % {"pool": pool, "name": name}
        raise serializers.ValidationError({"name": [message]}, code="unique")


def _same_pool(serializer, pool) -> None:
    if serializer.instance is not None and pool.pk != serializer.instance.pool_id:
        raise serializers.ValidationError({"pool": ["It stays on the pool it was made for: make a new one."]})


class ScalingScheduleSerializer(RestrictedModelSerializer):
    """A scaling schedule with its next occurrences."""

    cluster = serializers.IntegerField(source="pool.cluster_id", read_only=True)
    delta = serializers.IntegerField(required=False, allow_null=True, min_value=-MAX_SIZE, max_value=MAX_SIZE)
    desired_size = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_SIZE)
    grace_seconds = serializers.IntegerField(required=False, min_value=0, max_value=MAX_SECONDS)
    duration_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_SECONDS)
    next_occurrences = serializers.SerializerMethodField()

    class Meta:
        model = ScalingSchedule
        fields = (
            "id",
            "pool",
            "cluster",
            "name",
            "desired_size",
            "delta",
            "cron",
            "run_at",
            "time_zone",
            "duration_minutes",
            "grace_seconds",
            "enabled",
            "next_occurrences",
            "created_at",
            "updated_at",
        )
        validators: list = []

    @extend_schema_field(serializers.ListField(child=serializers.DateTimeField()))
    def get_next_occurrences(self, schedule) -> list:
        """The next five occurrences (one for a one-off), in the schedule's time zone; none when disabled."""
        return [moment.isoformat() for moment in timing.upcoming(schedule, timezone.now())]

    def validate_cron(self, value):
        """Five fields croniter reads."""
        value = " ".join(value.split())
        problem = timing.check_cron(value) if value else None
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate_time_zone(self, value):
        """An IANA time zone."""
        problem = timing.check_time_zone(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate_delta(self, value):
        """Zero changes nothing."""
        if value == 0:
            raise serializers.ValidationError(
                gettext("A delta of 0 changes nothing: give hosts to add, or negative to remove.")
            )
        return value

    def validate(self, attrs):
        """One target, one time (a one-off in the future), a desired size within the pool's bounds."""
        pool = _current(self, attrs, "pool")
        _same_pool(self, pool)
        if (_current(self, attrs, "desired_size") is None) == (_current(self, attrs, "delta") is None):
            raise serializers.ValidationError({"non_field_errors": ['Give exactly one of "desired_size" or "delta".']})
        cron, run_at = _current(self, attrs, "cron") or "", _current(self, attrs, "run_at")
        if bool(cron) == (run_at is not None):
            raise serializers.ValidationError(
                {"non_field_errors": ['Give exactly one of "cron" (repeating) or "run_at" (once).']}
            )
        if "run_at" in attrs and run_at is not None and run_at <= timezone.now():
            raise serializers.ValidationError({"run_at": [gettext("A one-off time must be in the future.")]})
        size = _current(self, attrs, "desired_size")
        if size is not None and not pool.min_size <= size <= pool.max_size:
            message = gettext("Pool %(pool)s takes %(low)s to %(high)s hosts; %(size)s is outside.") % {
                "pool": pool,
                "low": pool.min_size,
                "high": pool.max_size,
                "size": size,
            }
            raise serializers.ValidationError({"desired_size": [message]})
        _unique_name(self, ScalingSchedule, pool, _current(self, attrs, "name"))
        return attrs

    def create(self, validated_data):
        """Occurrences are looked for from now on."""
        schedule = ScalingSchedule(**validated_data)
        schedule.look_from(timezone.now())
        schedule.save()
        return schedule

    def update(self, schedule, validated_data):
        """A schedule enabled again, or given another time, looks for occurrences from now on: those it was
        not meant to run are not recorded as missed."""
        retimed = any(key in validated_data for key in ("cron", "run_at", "time_zone"))
        enabled_again = validated_data.get("enabled") and not schedule.enabled
        schedule = super().update(schedule, validated_data)
        if retimed or enabled_again:
            schedule.look_from(timezone.now())
            schedule.save(update_fields=["checked_until", "next_at", "updated_at"])
        return schedule


class ScalingPolicySerializer(RestrictedModelSerializer):
    """A scaling policy; ``token`` (for its webhook) is answered only when made or rotated."""

    cluster = serializers.IntegerField(source="pool.cluster_id", read_only=True)
    step_out = serializers.IntegerField(min_value=1, max_value=MAX_SIZE)
    step_in = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_SIZE)
    stable_seconds = serializers.IntegerField(required=False, min_value=0, max_value=MAX_SECONDS)
    cooldown_seconds = serializers.IntegerField(required=False, min_value=0, max_value=MAX_SECONDS)
    min_size = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_SIZE)
    max_size = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_SIZE)
    webhook = serializers.SerializerMethodField()
    token = serializers.SerializerMethodField()

    class Meta:
        model = ScalingPolicy
        fields = (
            "id",
            "pool",
            "cluster",
            "name",
            "alert_name",
            "step_out",
            "step_out_unit",
            "step_in",
            "step_in_unit",
            "stable_seconds",
            "min_size",
            "max_size",
            "cooldown_seconds",
            "enabled",
            "webhook",
            "token_prefix",
            "token",
            "firing_since",
            "resolved_since",
            "last_scaled_at",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("token_prefix", "firing_since", "resolved_since", "last_scaled_at")
        validators: list = []

    def get_webhook(self, policy) -> str:
        """The path Alertmanager (or a script) posts this policy's alerts to."""
        return f"/api/v1/scaling-policies/{policy.pk}/alerts/"

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_token(self, policy) -> str | None:
        """The webhook token, only in the answer that made it (a create or rotate-token); null otherwise."""
        return getattr(policy, "new_token", None)

    def validate(self, attrs):
        """Steps in percent at most 1000; the policy's bounds in order and within the pool's."""
        pool = _current(self, attrs, "pool")
        _same_pool(self, pool)
        for field in ("step_out", "step_in"):
            if (
                _current(self, attrs, f"{field}_unit") == "percent"
                and (_current(self, attrs, field) or 0) > MAX_PERCENT
            ):
                message = gettext("A step in percent is at most %(most)s.") % {"most": MAX_PERCENT}
                raise serializers.ValidationError({field: [message]})
        low, high = _current(self, attrs, "min_size"), _current(self, attrs, "max_size")
        if low is not None and high is not None and low > high:
            message = gettext("min_size %(low)s is above max_size %(high)s.") % {"low": low, "high": high}
            raise serializers.ValidationError({"min_size": [message]})
        if high is not None and not pool.min_size <= high <= pool.max_size:
            message = gettext("A policy's max_size stays within pool %(pool)s's bounds %(low)s–%(high)s.") % {
                "pool": pool,
                "low": pool.min_size,
                "high": pool.max_size,
            }
            raise serializers.ValidationError({"max_size": [message]})
        if low is not None and not pool.min_size <= low <= pool.max_size:
            message = gettext("A policy's min_size stays within pool %(pool)s's bounds %(low)s–%(high)s.") % {
                "pool": pool,
                "low": pool.min_size,
                "high": pool.max_size,
            }
            raise serializers.ValidationError({"min_size": [message]})
        _unique_name(self, ScalingPolicy, pool, _current(self, attrs, "name"))
        return attrs

    def create(self, validated_data):
        """Made with its webhook token, answered this once."""
        policy = ScalingPolicy(**validated_data)
        token = policies.new_token(policy)
        policy.save()
        policy.new_token = token
        return policy


class ScheduleOccurrenceSerializer(serializers.ModelSerializer):
    """One occurrence of a schedule and what became of it."""

    pool = serializers.IntegerField(source="schedule.pool_id", read_only=True)

    class Meta:
        model = ScheduleOccurrence
        fields = (
            "id",
            "schedule",
            "pool",
            "time",
            "kind",
            "status",
            "job",
            "size_before",
            "size_after",
            "ends_at",
            "message",
            "ran_at",
        )
        read_only_fields = fields


class PolicyTriggerSerializer(serializers.ModelSerializer):
    """One trigger of a policy and its decision."""

    pool = serializers.IntegerField(source="policy.pool_id", read_only=True)
    alerts = serializers.ListField(child=serializers.DictField(child=serializers.CharField()), read_only=True)

    class Meta:
        model = PolicyTrigger
        fields = (
            "id",
            "policy",
            "pool",
            "time",
            "source",
            "status",
            "alerts",
            "decision",
            "job",
            "size_before",
            "size_after",
            "message",
        )
        read_only_fields = fields
