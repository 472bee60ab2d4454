"""REST API of the providers app: provider accounts (write-only credentials) and templates."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.configuration import variables
from apps.configuration.runners import available_methods
from apps.core.api.fields import ObjectField
from apps.core.api.serializers import RestrictedModelSerializer
from apps.core.api.views import ModelViewSet
from apps.providers import catalog, secrets
from apps.providers.choices import InitMethod, ProviderKind
from apps.providers.drivers import AuthError, ProviderError, get_driver
from apps.providers.drivers.registry import available_kinds
from apps.providers.models import CloudAccount, MachineTemplate
from apps.providers.ratelimit import ACTIONS as RATE_ACTIONS


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}, "writeOnly": True})
class CredentialsField(serializers.JSONField):
    """A write-only JSON object of strings."""


class CloudAccountSerializer(RestrictedModelSerializer):
    """A provider account. ``credentials`` can be written, never read back.

    Only system administrators read the whole account; everyone else sees
    PUBLIC_FIELDS, what a template or a host refers to. Options and the
    endpoint are stored in plain text, so secrets are refused there: they
    belong in the encrypted credentials.
    """

    PUBLIC_FIELDS = ("id", "name", "kind", "region")

    credentials = CredentialsField(write_only=True, required=False)
    options = ObjectField(
        required=False,
        help_text='Settings of the account: "terminate_orphans" (true/false), "rate_limits", a libcloud '
        "driver's own arguments.",
    )
    has_credentials = serializers.SerializerMethodField()

    class Meta:
        model = CloudAccount
        fields = (
            "id",
            "name",
            "kind",
            "region",
            "endpoint_url",
            "credentials",
            "has_credentials",
            "options",
            "max_hosts",
            "created_at",
            "updated_at",
        )

    def get_has_credentials(self, account) -> bool:
        """Whether credentials are stored (their values are never shown)."""
        return bool(account.credentials)

    def to_representation(self, account):
        """The whole account for a system administrator; its name, kind and region for anyone else."""
        data = super().to_representation(account)
        request = self.context.get("request")
        if request is not None and getattr(request.user, "is_system_admin", False):
            return data
        return {name: data[name] for name in self.PUBLIC_FIELDS}

    def validate_endpoint_url(self, url):
        """An endpoint without credentials in it: it is stored and shown in plain text."""
        if secrets.url_has_credentials(url):
            raise serializers.ValidationError(
                "Give the endpoint URL without a user name or password in it; put secrets in credentials."
            )
        return url

    def validate_kind(self, kind):
        """Only kinds with a driver; the kind of an existing account does not change."""
        if self.instance is not None and kind != self.instance.kind:
            raise serializers.ValidationError("The kind of a provider account cannot change; create a new account.")
        if kind not in available_kinds():
            raise serializers.ValidationError(
                f"Provider kind {kind!r} has no driver in this version; available: {', '.join(available_kinds())}."
            )
        return kind

    def validate_options(self, options):
        """Options are a JSON object (ObjectField); the ones DCP reads must have the right shape."""
        if "terminate_orphans" in options and not isinstance(options["terminate_orphans"], bool):
            raise serializers.ValidationError('"terminate_orphans" must be true or false.')
        _check_rate_limits(options.get("rate_limits", {}))
        _check_pricing(options)
        found = secrets.secret_paths(options, "options")
        if found:
            raise serializers.ValidationError(
                f"Options are stored and shown in plain text, and {', '.join(found)} looks like a secret: "
                "put it in credentials, which are encrypted (a Libcloud driver argument goes there under its own name)."
            )
        return options

    def validate(self, attrs):
        """Credentials carry exactly the keys the kind needs; they must work."""
        kind = attrs.get("kind") or (self.instance.kind if self.instance else None)
        creds = attrs.get("credentials")
        if creds is None and self.instance is None:
            creds = {}
            attrs["credentials"] = creds
        if creds is not None:
            _check_credential_keys(kind, creds)
            probe = CloudAccount(**{**_current(self.instance), **attrs})
            try:
                get_driver(probe).check_credentials()
            except AuthError as exc:
                raise serializers.ValidationError(
                    {"credentials": [f"The provider refused them: {exc.message}"]}
                ) from None
            except ProviderError as exc:
                raise serializers.ValidationError({"credentials": [f"Could not check them: {exc.message}"]}) from None
        return attrs


RATE_LIMIT_SHAPE = (
    '"rate_limits" must look like {"create": {"request": [burst, per_second]}}: actions '
    + ", ".join(RATE_ACTIONS)
    + "; buckets request or resource; both numbers positive."
)


def _check_pricing(options: dict) -> None:
    """AWS's Pricing API endpoint (``pricing_endpoint_url``, an http(s) URL) and region (``pricing_region``)."""
    url = options.get("pricing_endpoint_url")
    if url is not None:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except (DjangoValidationError, TypeError):
            raise serializers.ValidationError('"pricing_endpoint_url" must be an http(s) URL.') from None
        if secrets.url_has_credentials(url):
            raise serializers.ValidationError('"pricing_endpoint_url" must not carry a user name or password.')
    region = options.get("pricing_region")
    if region is not None and (not isinstance(region, str) or not region.strip()):
        raise serializers.ValidationError('"pricing_region" must be a region name such as "us-east-1".')


def _check_rate_limits(limits) -> None:
    """rate_limits overrides: {action: {bucket: [size, rate]}}, every number positive."""
    if not isinstance(limits, dict) or not set(limits) <= set(RATE_ACTIONS):
        raise serializers.ValidationError(RATE_LIMIT_SHAPE)
    for buckets in limits.values():
        if not isinstance(buckets, dict) or not set(buckets) <= {"request", "resource"}:
            raise serializers.ValidationError(RATE_LIMIT_SHAPE)
        for pair in buckets.values():
            numbers = pair if isinstance(pair, list) and len(pair) == 2 else []
            if not numbers or not all(
                isinstance(n, int | float) and not isinstance(n, bool) and 0 < n <= 1e6 for n in numbers
            ):
                raise serializers.ValidationError(RATE_LIMIT_SHAPE)


def _current(instance) -> dict:
    if instance is None:
        return {}
    return {f.name: getattr(instance, f.name) for f in CloudAccount._meta.concrete_fields if f.name != "id"}


def _check_credential_keys(kind: str, creds) -> None:
    if not isinstance(creds, dict):
        raise serializers.ValidationError({"credentials": ["Credentials must be a JSON object."]})
    required, optional = ProviderKind.CREDENTIALS[kind]
    unknown = sorted(set(creds) - set(required) - set(optional))
    if kind == ProviderKind.LIBCLOUD:
        # The Libcloud driver's own arguments that carry a secret are kept here, encrypted, not in options.
        unknown = [key for key in unknown if not secrets.looks_secret(key)]
    missing = [key for key in required if not creds.get(key)]
    problems = []
    if missing:
        problems.append(f"Missing for {kind}: {', '.join(missing)}")
    if unknown:
        allowed = ", ".join((*required, *optional)) or "none"
        if kind == ProviderKind.LIBCLOUD:
            allowed += ", and the driver's arguments that carry a secret (a token, password or key)"
        problems.append(f"Not known for {kind}: {', '.join(unknown)} (allowed: {allowed})")
    if any(not isinstance(value, str) for value in creds.values()):
        problems.append("Every value must be a string")
    if problems:
        raise serializers.ValidationError({"credentials": ["; ".join(problems)]})


class CloudAccountViewSet(ModelViewSet):
    """Provider accounts: every user may list them (name, kind, region), system administrators manage them."""

    queryset = CloudAccount.objects.all()
    serializer_class = CloudAccountSerializer
    filterset_fields = ("kind", "region")
    # Sorting by a field one may not read would still tell its values apart.
    ordering_fields = CloudAccountSerializer.PUBLIC_FIELDS


ZONE_NAME = {"type": "string", "minLength": 1, "maxLength": 64}


@extend_schema_field(
    {
        "type": "array",
        "maxItems": 50,
        "items": {
            "oneOf": [
                ZONE_NAME,
                {
                    "type": "object",
                    "properties": {"zone": ZONE_NAME, "subnet": {"type": "string", "maxLength": 255}},
                    "required": ["zone"],
                    "additionalProperties": False,
                },
            ]
        },
    }
)
class ZonesField(serializers.JSONField):
    """Zones to spread hosts over: names, or {"zone", "subnet"} objects."""


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class SecurityGroupsField(serializers.JSONField):
    """Security group names."""


UNAVAILABLE_METHOD = '"{input}" is not an init method; use one of: ' + ", ".join(available_methods()) + "."


class MachineTemplateSerializer(RestrictedModelSerializer):
    """A machine template, checked against its provider's catalog."""

    init_method = serializers.ChoiceField(
        choices=available_methods(),
        required=False,
        error_messages={"invalid_choice": UNAVAILABLE_METHOD},
    )
    zones = ZonesField(
        required=False,
        help_text='Zones to spread hosts over, evenly: names, or {"zone", "subnet"} where the subnet (VPC subnet, '
        "vSwitch) belongs to one zone. Empty: only zone (if any).",
    )
    security_groups = SecurityGroupsField(required=False)
    init_vars = ObjectField(
        required=False,
        help_text="Variables of the init roles (dcp_*), checked against their specs.",
        error_messages={"not_object": 'Give an object of variables, e.g. {{"dcp_ntp_servers": ["ntp1.example.com"]}}.'},
    )

    class Meta:
        model = MachineTemplate
        fields = (
            "id",
            "name",
            "provider",
            "region",
            "zone",
            "zones",
            "instance_type",
            "image",
            "cpu",
            "memory_gb",
            "network",
            "subnet",
            "security_groups",
            "key_name",
            "init_method",
            "init_profile",
            "init_vars",
            "registry",
            "max_hosts",
            "hourly_price",
            "created_at",
            "updated_at",
        )
        extra_kwargs = {"max_hosts": {"max_value": 1_000_000}, "cpu": {"max_value": 4096}}

    def validate_zones(self, value):
        """Distinct zones, each a name or {"zone": name, "subnet": its subnet}."""
        shape = 'Give a list of zones (at most 50), each a name or {"zone": "...", "subnet": "..."}; [] for none.'
        if not isinstance(value, list) or len(value) > 50:
            raise serializers.ValidationError(shape)
        names = []
        for item in value:
            if isinstance(item, dict) and set(item) <= {"zone", "subnet"}:
                if not isinstance(item.get("subnet", ""), str) or len(item.get("subnet", "")) > 255:
                    raise serializers.ValidationError(shape)
                item = item.get("zone")
            if not isinstance(item, str) or not item or len(item) > 64:
                raise serializers.ValidationError(shape)
            names.append(item)
        if len(set(names)) != len(names):
            raise serializers.ValidationError(f"Each zone may appear only once: {', '.join(sorted(names))}.")
        return value

    def validate_init_profile(self, value):
        """Profile roles that exist under playbooks/roles."""
        missing = variables.check_profile(value)
        if missing:
            raise serializers.ValidationError(
                f"No profile role {', '.join(missing)} in playbooks/roles; give role names, comma-separated."
            )
        return value

    def validate_security_groups(self, value):
        """A list of names."""
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise serializers.ValidationError("Give a list of security group names.")
        return value

    def validate(self, attrs):
        """The instance type (machine class), image and zone must exist at the provider."""
        merged = {**_template_values(self.instance), **attrs}
        bad_vars = variables.check(
            merged.get("init_vars") or {}, merged.get("init_profile", ""), merged.get("init_method", InitMethod.NONE)
        )
        if bad_vars:
            raise serializers.ValidationError({"init_vars": bad_vars})
        provider = merged["provider"]
        template = MachineTemplate(**merged)
        try:
            known_sizes = catalog.sizes(provider)
            known_zones = catalog.locations(provider)
            # Physical machines have no image catalog: their image records the system they carry.
            checks_image = template.image and provider.kind != ProviderKind.PHYSICAL
            image_found = catalog.image(provider, template.image) if checks_image else None
        except ProviderError as exc:
            raise serializers.ValidationError({"provider": [f"Could not read its catalog: {exc.message}"]}) from None
        problems = {}
        if template.instance_type not in known_sizes:
            problems["instance_type"] = (
                f"Provider {provider.name} has no {template.instance_type!r}; known: {_some(known_sizes)}."
            )
        if template.zone and template.zone not in known_zones:
            problems["zone"] = f"Provider {provider.name} has no zone {template.zone!r}; known: {_some(known_zones)}."
        listed = template.zone_choices() if template.zones else []
        unknown_zones = [zone for zone in listed if zone not in known_zones]
        if unknown_zones:
            missing = ", ".join(map(repr, unknown_zones))
            problems["zones"] = f"Provider {provider.name} has no zone {missing}; known: {_some(known_zones)}."
        if checks_image and image_found is None:
            problems["image"] = f"Provider {provider.name} has no image {template.image!r}."
        if problems:
            raise serializers.ValidationError({field: [message] for field, message in problems.items()})
        return attrs


def _some(known: dict) -> str:
    """A short list of known names for an error message."""
    names = sorted(known)
    return (", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")) or "none yet"


def _template_values(instance) -> dict:
    if instance is None:
        return {}
    return {f.name: getattr(instance, f.name) for f in MachineTemplate._meta.concrete_fields if f.name != "id"}


class MachineTemplateViewSet(ModelViewSet):
    """Machine templates: every user may list them, system administrators manage them."""

    queryset = MachineTemplate.objects.select_related("provider")
    serializer_class = MachineTemplateSerializer
    filterset_fields = ("provider", "init_method", "instance_type")
