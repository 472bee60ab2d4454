"""Secrets stored in plain text on provider accounts move into the encrypted credentials.

Libcloud driver arguments that carry a secret (options.driver_args.secret,
ex_force_auth_token...) move into credentials, where the driver now reads
them, so the account keeps working. An endpoint URL with credentials in it:
an OpenStack account's moves whole into credentials.auth_url (the driver uses
it when there is no endpoint); other drivers never send a URL's user name or
password, so theirs are taken out. Audit entries of accounts are masked the
same way, since they copied options and endpoints as they were.
"""

from django.db import migrations

from apps.providers import secrets


def _move_driver_args(account, credentials: dict) -> bool:
    options = dict(account.options or {})
    driver_args = options.get("driver_args")
    if account.kind != "libcloud" or not isinstance(driver_args, dict):
        return False
    moved = {name: value for name, value in driver_args.items() if secrets.looks_secret(name)}
    if not moved:
        return False
    for name, value in moved.items():
        # A key already in the credentials is the one the driver used (an encrypted value wins).
        credentials.setdefault(name, value)
    options["driver_args"] = {name: value for name, value in driver_args.items() if name not in moved}
    account.options = options
    return True


def _move_endpoint_credentials(account, credentials: dict) -> bool:
    if not secrets.url_has_credentials(account.endpoint_url):
        return False
    if account.kind == "openstack":
        credentials["auth_url"] = account.endpoint_url
        account.endpoint_url = ""
    else:
        account.endpoint_url = secrets.with_userinfo(account.endpoint_url)
    return True


def move_secrets(apps, schema_editor):
    """Move secrets out of options and endpoints into credentials; mask them in past audit entries."""
    CloudAccount = apps.get_model("providers", "CloudAccount")
    for account in CloudAccount.objects.all():
        credentials = dict(account.credentials or {})
        moved_args = _move_driver_args(account, credentials)
        moved_endpoint = _move_endpoint_credentials(account, credentials)
        if moved_args or moved_endpoint:
            account.credentials = credentials
            account.save(update_fields=["credentials", "options", "endpoint_url"])
    ContentType = apps.get_model("contenttypes", "ContentType")
    AuditEntry = apps.get_model("core", "AuditEntry")
    kinds = ContentType.objects.filter(app_label="providers", model="cloudaccount")
    for entry in AuditEntry.objects.filter(object_type__in=kinds):
        before, after = secrets.masked(entry.before), secrets.masked(entry.after)
        if (before, after) != (entry.before, entry.after):
            entry.before, entry.after = before, after
            entry.save(update_fields=["before", "after"])


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0002_initial"),
        ("providers", "0003_template_init_vars_registry"),
    ]

    operations = [migrations.RunPython(move_secrets, migrations.RunPython.noop)]
