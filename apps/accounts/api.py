"""REST API of the accounts app: tokens, users, cluster members, pool administrators."""

from django.contrib.auth import password_validation, update_session_auth_hash
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import security, services
from apps.accounts.choices import TokenOrigin
from apps.accounts.models import Membership, PoolAdmin, Token, User
from apps.core import audit
from apps.core.api.serializers import RestrictedModelSerializer, Serializer, refuse_body
from apps.core.api.views import CreateReadDeleteViewSet, ModelViewSet
from apps.core.choices import Action
from apps.core.exceptions import Conflict
from apps.core.models import AuditAction
from apps.inventory.models import Cluster, ServicePool


class TokenRequestSerializer(Serializer):
    """Username and password, exchanged for a token."""

    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False, style={"input_type": "password"})
    name = serializers.CharField(max_length=100, required=False, default="password exchange")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class ObtainTokenView(APIView):
    """POST username and password, get a new short-lived API token (shown once; see services for the policy)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    sign_in_limited = ("*",)

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: inline_serializer(
                "TokenResponse",
                {
                    "token": serializers.CharField(),
                    "id": serializers.IntegerField(),
                    "name": serializers.CharField(),
                    "expires_at": serializers.DateTimeField(),
                },
            )
        },
        auth=[],
    )
    def post(self, request):
        """Check the credentials and issue a token."""
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            user = security.sign_in(request, data["username"], data["password"])
        except security.TooManyAttempts as exc:
            raise Throttled(wait=exc.retry_after, detail=exc.message) from None
        except security.WrongCredentials as exc:
            return Response({"detail": exc.message}, status=status.HTTP_400_BAD_REQUEST)
        token, key = services.issue_token(
            user, name=data["name"], description=data.get("description", ""), origin=TokenOrigin.PASSWORD
        )
        return Response({"token": key, "id": token.pk, "name": token.name, "expires_at": token.expires_at})


class TokenSerializer(serializers.ModelSerializer):
    """An API token as listed: never its key nor the key's hash, only the prefix that tells it apart."""

    username = serializers.CharField(source="user.username", read_only=True)
    expired = serializers.BooleanField(read_only=True)

    class Meta:
        model = Token
        fields = (
            "id",
            "user",
            "username",
            "name",
            "description",
            "prefix",
            "origin",
            "created_at",
            "expires_at",
            "last_used_at",
            "expired",
        )
        read_only_fields = ("user", "prefix", "origin", "created_at", "last_used_at")


class TokenCreateSerializer(Serializer):
    """A named token to make: the maker's password confirms it; expires_at omitted is the default, null never."""

    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    password = serializers.CharField(
        max_length=1024, trim_whitespace=False, write_only=True, style={"input_type": "password"}
    )


class TokenCreatedSerializer(TokenSerializer):
    """A token just made, with its key: the only answer that ever holds the key."""

    key = serializers.CharField(read_only=True)

    class Meta(TokenSerializer.Meta):
        fields = (*TokenSerializer.Meta.fields, "key")


class TokenViewSet(mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet):
    """API tokens: everyone lists, makes and revokes their own; system administrators see and revoke anyone's."""

    queryset = Token.objects.select_related("user")
    serializer_class = TokenSerializer
    permission_classes = [IsAuthenticated]
    sign_in_limited = ("create",)
    filterset_fields = ("user", "origin")

    def get_queryset(self):
        """The tokens the user may see."""
        return super().get_queryset().restrict(self.request.user)

    @extend_schema(request=TokenCreateSerializer, responses={201: TokenCreatedSerializer})
    def create(self, request, *args, **kwargs):
        """Make a named token for the signed-in user; the answer holds its key, shown this once."""
        serializer = TokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = services.create_token(
            request.user, request=request, origin=TokenOrigin.API, **serializer.validated_data
        )
        token.key = key
        return Response(TokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        """Revoke: the next request with the token is refused."""
        services.revoke_token(instance, by=self.request.user)


class PasswordChangeSerializer(Serializer):
    """The user's current password and the new one."""

    current_password = serializers.CharField(max_length=1024, trim_whitespace=False, style={"input_type": "password"})
    new_password = serializers.CharField(max_length=1024, trim_whitespace=False, style={"input_type": "password"})


RevokedSerializer = inline_serializer(
    "TokensRevoked", {"detail": serializers.CharField(), "revoked_tokens": serializers.IntegerField()}
)


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
    """Users: managed by system administrators; everyone else sees only themselves.

    A new password or a deactivation saved here revokes the user's tokens (User.save).
    """

    queryset = User.objects.all()
    serializer_class = UserSerializer
    filterset_fields = ("username", "is_active", "is_superuser")
    sign_in_limited = ("change_password",)

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

    @extend_schema(request=PasswordChangeSerializer, responses={200: RevokedSerializer})
    @action(
        detail=False,
        methods=["post"],
        url_path="me/password",
        permission_classes=[IsAuthenticated],
    )
    def change_password(self, request):
        """Change one's own password: every token of the user is revoked, this request's one included."""
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        revoked = services.change_password(
            request.user, data["current_password"], data["new_password"], by=request.user, request=request
        )
        if request.auth is None:
            # Signed in by the console's session: that session stays, every other one ends.
            update_session_auth_hash(request, request.user)
        detail = "Password changed. Every API token of yours was revoked: get a new one with the new password."
        return Response({"detail": detail, "revoked_tokens": revoked})

    @extend_schema(request=None, responses={200: RevokedSerializer})
    @action(detail=True, methods=["post"], url_path="revoke-tokens", permission_classes=[IsAuthenticated])
    def revoke_tokens(self, request, pk=None):
        """Revoke every token of a user: one's own, or anyone's for a system administrator."""
        user = generics.get_object_or_404(self.get_queryset(), pk=pk)
        refuse_body(request.data)
        revoked = services.revoke_tokens(user, by=request.user)
        return Response({"detail": f"Revoked {revoked} tokens of {user.username}.", "revoked_tokens": revoked})


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
            raise serializers.ValidationError(
                gettext("To change who a membership is for, remove it and add a new one.")
            )
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

    def create(self, request, *args, **kwargs):
        """Refuse those who may not add members before the username is looked at.

        Whether a username exists, or is a member already, is an answer only
        for those who may add members: anyone else gets the same 403 whatever
        the name.
        """
        self.check_write(self.get_cluster())
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        """Add a member; one membership per user and cluster."""
        cluster = self.get_cluster()
        if Membership.objects.filter(cluster=cluster, user=serializer.validated_data["user"]).exists():
            raise Conflict(
                gettext("User %(user)s is already a member of %(cluster)s.")
                % {"user": serializer.validated_data["user"], "cluster": cluster}
            )
        with transaction.atomic():
            instance = serializer.save(cluster=cluster)
            self.check_write(instance)
            audit.record(self.request.user, AuditAction.CREATE, instance, None, audit.snapshot(instance))


class PoolAdminSerializer(RestrictedModelSerializer):
    """A pool administrator: a member of the pool's cluster, named by username."""

    username = serializers.SlugRelatedField(
        source="user", slug_field="username", queryset=User.objects.filter(is_active=True)
    )
    cluster = serializers.IntegerField(source="pool.cluster_id", read_only=True)

    class Meta:
        model = PoolAdmin
        fields = ("id", "pool", "cluster", "username", "created_at", "updated_at")
        validators: list = []

    def validate(self, attrs):
        """A member of the pool's cluster (any role), once per pool."""
        pool, user = attrs["pool"], attrs["user"]
        if not Membership.objects.filter(cluster_id=pool.cluster_id, user=user).exists():
            message = gettext("%(user)s is not a member of cluster %(cluster)s: add them (as a guest) first.") % {
                "user": user,
                "cluster": pool.cluster,
            }
            raise serializers.ValidationError({"username": [message]})
        if PoolAdmin.objects.filter(pool=pool, user=user).exists():
            message = gettext("%(user)s already administers pool %(pool)s.") % {"user": user, "pool": pool}
            raise serializers.ValidationError({"username": [message]}, code="unique")
        return attrs


class PoolAdminViewSet(CreateReadDeleteViewSet):
    """Pool administrators: visible to the cluster's members, appointed and removed by its admins."""

    queryset = PoolAdmin.objects.select_related("pool", "user")
    serializer_class = PoolAdminSerializer
    filterset_fields = ("pool",)

    def create(self, request, *args, **kwargs):
        """Refuse those who may not appoint pool admins before the username is looked at (as for members)."""
        pool_id = request.data.get("pool") if isinstance(request.data, dict) else None
        if isinstance(pool_id, int) and not isinstance(pool_id, bool):
            pool = ServicePool.objects.restrict(request.user, Action.VIEW).filter(pk=pool_id).first()
            if pool is not None:
                self.check_write(pool)
        return super().create(request, *args, **kwargs)
