"""REST API of the accounts app: tokens, users, cluster members."""

from django.contrib.auth import authenticate, password_validation
from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from apps.accounts.models import Membership, Token, User
from apps.core import audit
from apps.core.api.serializers import RestrictedModelSerializer, StrictSerializer
from apps.core.api.views import ModelViewSet
from apps.core.choices import Action
from apps.core.exceptions import Conflict
from apps.core.models import AuditAction
from apps.inventory.models import Cluster


class TokenRequestSerializer(StrictSerializer):
    """Username and password, exchanged for a token."""

    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False, style={"input_type": "password"})
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class ObtainTokenView(APIView):
    """POST username and password, get a new API token (shown once)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        request=TokenRequestSerializer,
        responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()})},
        auth=[],
    )
    def post(self, request):
        """Check the credentials and issue a token."""
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = authenticate(request, username=data["username"], password=data["password"])
        if user is None or not user.is_active:
            return Response({"detail": "Wrong username or password."}, status=status.HTTP_400_BAD_REQUEST)
        _, key = Token.issue(user, description=data.get("description", "") or "issued by /api/v1/auth/token/")
        return Response({"token": key})


def _password_min_length() -> int:
    """The shortest password the configured rules allow (1 without a length rule)."""
    lengths = [
        rule.min_length
        for rule in password_validation.get_default_password_validators()
        if isinstance(rule, password_validation.MinimumLengthValidator)
    ]
    return max(lengths, default=1)


class UserSerializer(RestrictedModelSerializer):
    """A user account; the password is write-only and checked against the password rules."""

    is_system_admin = serializers.BooleanField(source="is_superuser", required=False, default=False)
    # The length rule as a field limit too, so the schema states it (the other rules run in validate_password).
    password = serializers.CharField(
        write_only=True,
        required=False,
        min_length=_password_min_length(),
        max_length=1024,
        trim_whitespace=False,  # spaces are part of a password: the token endpoint does not trim them either
        style={"input_type": "password"},
        error_messages={"min_length": "This password is too short. It must contain at least {min_length} characters."},
    )

    class Meta:
        model = User
        fields = (
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "is_system_admin",
            "is_active",
            "password",
            "date_joined",
            "last_login",
        )
        read_only_fields = ("date_joined", "last_login")

    def validate_password(self, value):
        """Apply the configured password rules."""
        password_validation.validate_password(value, self.instance)
        return value

    def validate(self, attrs):
        """A new user needs a password."""
        if self.instance is None and not attrs.get("password"):
            raise serializers.ValidationError({"password": ["A new user needs a password."]})
        return attrs

    def create(self, validated_data):
        """Create with a hashed password."""
        password = validated_data.pop("password")
        user = User(**validated_data)
        user.set_password(password)
        user.save()
        return user

    def update(self, instance, validated_data):
        """Update; a given password is hashed."""
        password = validated_data.pop("password", None)
        for key, value in validated_data.items():
            setattr(instance, key, value)
        if password:
            instance.set_password(password)
        instance.save()
        return instance


SELF_LOCKOUT = "You cannot {what} your own account; another system administrator can."


class UserViewSet(ModelViewSet):
    """Users: managed by system administrators; everyone else sees only themselves."""

    queryset = User.objects.all()
    serializer_class = UserSerializer
    filterset_fields = ("username", "is_active", "is_superuser")

    def perform_update(self, serializer):
        """Change a user; a system administrator cannot lock themselves out."""
        changes = serializer.validated_data
        if serializer.instance.pk == self.request.user.pk and (
            changes.get("is_active") is False or changes.get("is_superuser") is False
        ):
            raise PermissionDenied(SELF_LOCKOUT.format(what="deactivate or demote"))
        super().perform_update(serializer)

    def perform_destroy(self, instance):
        """Delete a user, never the one asking: the last system administrator could lock everyone out."""
        if instance.pk == self.request.user.pk:
            raise PermissionDenied(SELF_LOCKOUT.format(what="delete"))
        super().perform_destroy(instance)


class MembershipSerializer(RestrictedModelSerializer):
    """A member of a cluster, named by username, with a role."""

    username = serializers.SlugRelatedField(
        source="user", slug_field="username", queryset=User.objects.filter(is_active=True)
    )

    class Meta:
        model = Membership
        fields = ("id", "username", "role", "created_at", "updated_at")

    def validate_username(self, user):
        """The user cannot change on an existing membership."""
        if self.instance is not None and self.instance.user_id != user.pk:
            raise serializers.ValidationError("To change who a membership is for, remove it and add a new one.")
        return user


class MembershipViewSet(ModelViewSet):
    """Members of one cluster: visible to its members, changed by its admins."""

    queryset = Membership.objects.select_related("user", "cluster")
    serializer_class = MembershipSerializer
    lookup_field = "user__username"
    lookup_url_kwarg = "username"
    lookup_value_regex = "[^/]+"
    filterset_fields = ("role",)

    def get_cluster(self) -> Cluster:
        """The cluster in the URL: 404 unless the user may see it."""
        visible = Cluster.objects.restrict(self.request.user, Action.VIEW)
        return get_object_or_404(visible, pk=self.kwargs["cluster_pk"])  # the URL admits digits only

    def get_queryset(self):
        """Members of the cluster in the URL."""
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return super().get_queryset().filter(cluster=self.get_cluster())

    def perform_create(self, serializer):
        """Add a member; one membership per user and cluster."""
        cluster = self.get_cluster()
        if Membership.objects.filter(cluster=cluster, user=serializer.validated_data["user"]).exists():
            raise Conflict(f"{serializer.validated_data['user']} is already a member of {cluster}.")
        with transaction.atomic():
            instance = serializer.save(cluster=cluster)
            self.check_write(instance)
            audit.record(self.request.user, AuditAction.CREATE, instance, None, audit.snapshot(instance))
