"""Tokens get a name, an origin and the expiry policy; users get a session version."""

from datetime import timedelta

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

# What ObtainTokenView wrote into the description of the tokens it issued before tokens had names.
EXCHANGE_DESCRIPTION = "issued by /api/v1/auth/token/"


def apply_policy(apps, schema_editor):
    """Name the tokens made so far, mark those made by password exchange, and give every token an expiry.

    A token that never expires is given the default lifetime, from now, unless
    DCP_TOKEN_ALLOW_NO_EXPIRY allows such tokens; one made by password exchange gets
    the (shorter) exchange lifetime.
    """
    Token = apps.get_model("accounts", "Token")
    now = timezone.now()
    exchange_expiry = now + timedelta(hours=settings.DCP_TOKEN_EXCHANGE_HOURS)
    for token in Token.objects.all():
        if token.description == EXCHANGE_DESCRIPTION:
            token.name, token.description, token.origin = "password exchange", "", "password"
            token.expires_at = min(token.expires_at or exchange_expiry, exchange_expiry)
        else:
            token.name = token.description[:100] or "token"
            if token.expires_at is None and not settings.DCP_TOKEN_ALLOW_NO_EXPIRY:
                token.expires_at = now + timedelta(days=settings.DCP_TOKEN_DEFAULT_DAYS)
        token.save(update_fields=["name", "description", "origin", "expires_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_initial"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="token",
            options={"ordering": ("-created_at", "-pk")},
        ),
        migrations.AddField(
            model_name="token",
            name="name",
            field=models.CharField(
                default="", help_text="What the token is for, e.g. the script that uses it.", max_length=100
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="token",
            name="origin",
            field=models.CharField(
                choices=[
                    ("password", "Password exchange"),
                    ("api", "API"),
                    ("console", "Console"),
                    ("command", "Command"),
                ],
                default="command",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="user",
            name="session_version",
            field=models.PositiveIntegerField(
                default=0, help_text="Raised to end every console session of the user (on deactivation)."
            ),
        ),
        migrations.AddIndex(
            model_name="token",
            index=models.Index(fields=["user", "origin"], name="token_user_origin_idx"),
        ),
        migrations.RunPython(apply_policy, migrations.RunPython.noop),
    ]
