"""REST API of scaling: schedules, policies (and their alert webhook), occurrences and triggers."""

import django_filters
from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core import audit
from apps.core.api.filters import BaseFilterSet, IdFilter, MultipleChoiceFilter
from apps.core.api.schema import ERROR_SCHEMA
from apps.core.api.serializers import refuse_body
from apps.core.api.views import ModelViewSet, ReadOnlyModelViewSet
from apps.core.choices import Action
from apps.core.models import AuditAction
from apps.scaling import alerts, policies
from apps.scaling.choices import Decision, OccurrenceKind, OccurrenceStatus
from apps.scaling.models import PolicyTrigger, ScalingPolicy, ScalingSchedule, ScheduleOccurrence
from apps.scaling.serializers import (
    PolicyTriggerSerializer,
    ScalingPolicySerializer,
    ScalingScheduleSerializer,
    ScheduleOccurrenceSerializer,
)


class ScalingScheduleFilterSet(BaseFilterSet):
    """?pool=&cluster=&enabled="""

    cluster = IdFilter(field_name="pool__cluster")

    class Meta:
        model = ScalingSchedule
        fields = ("pool", "cluster", "enabled")


class ScalingScheduleViewSet(ModelViewSet):
    """Scaling schedules of the pools the user may see; cluster admins and the pool's admins manage them."""

    queryset = ScalingSchedule.objects.select_related("pool")
    serializer_class = ScalingScheduleSerializer
    filterset_class = ScalingScheduleFilterSet
    write_action = Action.OPERATE


class ScalingPolicyFilterSet(BaseFilterSet):
    """?pool=&cluster=&enabled=&alert_name="""

    cluster = IdFilter(field_name="pool__cluster")

    class Meta:
        model = ScalingPolicy
        fields = ("pool", "cluster", "enabled", "alert_name")


class ScalingPolicyViewSet(ModelViewSet):
    """Scaling policies of the pools the user may see; cluster admins and the pool's admins manage them."""

    queryset = ScalingPolicy.objects.select_related("pool")
    serializer_class = ScalingPolicySerializer
    filterset_class = ScalingPolicyFilterSet
    write_action = Action.OPERATE
    object_action = Action.OPERATE

    @extend_schema(request=None, responses={200: ScalingPolicySerializer})
    @action(detail=True, methods=["post"], url_path="rotate-token")
    def rotate_token(self, request, pk=None):
        """Give the policy a new webhook token (answered this once); the old one stops working at once."""
        policy = self.get_object()
        refuse_body(request.data)
        with transaction.atomic():
            policy = ScalingPolicy.objects.select_for_update().get(pk=policy.pk)
            token = policies.new_token(policy)
            policy.save(update_fields=["secret", "token_prefix", "updated_at"])
            audit.record(request.user, AuditAction.UPDATE, policy, None, {"token_prefix": policy.token_prefix})
        policy.new_token = token
        return Response(self.get_serializer(policy).data)


UNAUTHORIZED = OpenApiResponse(
    response=ERROR_SCHEMA,
    description="The request does not hold the policy's token (or its signature does not match its body), or "
    "there is no such policy: the two are answered the same way.",
)
ALERTS_BODY = {
    "oneOf": [
        {
            "type": "object",
            "description": "Prometheus Alertmanager's webhook body (version 4).",
            "properties": {
                "status": {"type": "string", "enum": list(alerts.STATUSES)},
                "alerts": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": alerts.MAX_ALERTS,
                    "items": {
                        "type": "object",
                        "properties": {
                            "status": {"type": "string", "enum": list(alerts.STATUSES)},
                            "labels": {
                                "type": "object",
                                "properties": {"alertname": {"type": "string", "minLength": 1}},
                                "required": ["alertname"],
                                "additionalProperties": {"type": "string"},
                            },
                            "fingerprint": {"type": "string"},
                        },
                        "required": ["status", "labels"],
                    },
                },
            },
            "required": ["alerts"],
        },
        {
            "type": "object",
            "description": "A plain alert, for scripts and other monitors.",
            "properties": {
                "alertname": {"type": "string", "minLength": 1, "pattern": r"\S"},
                "status": {"type": "string", "enum": list(alerts.STATUSES)},
                "fingerprint": {"type": "string"},
            },
            "required": ["alertname", "status"],
            "additionalProperties": False,
        },
    ]
}


class PolicyAlertsView(APIView):
    """The webhook of one policy: Alertmanager (or a script) posts its alerts here with the policy's token.

    Not signed in as a user: the token (``Authorization: Bearer``, or an ``X-DCP-Signature`` of the body)
    is the policy's own, so a receiver can scale one pool and nothing else.
    """

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        operation_id="scaling_policies_alerts_create",
        request={"application/json": ALERTS_BODY},
        responses={
            200: OpenApiResponse(PolicyTriggerSerializer, description="The trigger recorded, with its decision."),
            401: UNAUTHORIZED,
        },
        auth=[],
    )
    def post(self, request, pk: int):
        """Judge the payload's alerts for the policy; answers the trigger recorded with its decision."""
        signature = request.headers.get(alerts.SIGNATURE_HEADER)
        policy = policies.sender_of(pk, request.headers.get("Authorization", ""), signature, request.body)
        if policy is None:
            return Response(
                {"detail": "Send the policy's token as Authorization: Bearer <token> (or sign the body with it)."},
                status=status.HTTP_401_UNAUTHORIZED,
                headers={"WWW-Authenticate": 'Bearer realm="dcp"'},
            )
        trigger = policies.receive(policy.pk, request.data)
        return Response(PolicyTriggerSerializer(trigger).data)


class ScheduleOccurrenceFilterSet(BaseFilterSet):
    """?schedule=&pool=&kind=&status="""

    pool = IdFilter(field_name="schedule__pool")
    kind = django_filters.ChoiceFilter(choices=OccurrenceKind.CHOICES)
    status = MultipleChoiceFilter(choices=OccurrenceStatus.CHOICES)

    class Meta:
        model = ScheduleOccurrence
        fields = ("schedule", "pool", "kind", "status")


class ScheduleOccurrenceViewSet(ReadOnlyModelViewSet):
    """What became of each occurrence of the schedules the user may see (scaled, missed, refused...)."""

    queryset = ScheduleOccurrence.objects.select_related("schedule")
    serializer_class = ScheduleOccurrenceSerializer
    filterset_class = ScheduleOccurrenceFilterSet


class PolicyTriggerFilterSet(BaseFilterSet):
    """?policy=&pool=&decision="""

    pool = IdFilter(field_name="policy__pool")
    decision = MultipleChoiceFilter(choices=Decision.CHOICES)

    class Meta:
        model = PolicyTrigger
        fields = ("policy", "pool", "decision")


class PolicyTriggerViewSet(ReadOnlyModelViewSet):
    """Every trigger of the policies the user may see, with its decision."""

    queryset = PolicyTrigger.objects.select_related("policy")
    serializer_class = PolicyTriggerSerializer
    filterset_class = PolicyTriggerFilterSet
