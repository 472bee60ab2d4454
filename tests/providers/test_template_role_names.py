"""The data migration that renames the example profile role in stored machine templates, run both ways against
PostgreSQL on templates saved with the old names."""

from importlib import import_module

import pytest
from django.apps import apps

from apps.providers.models import MachineTemplate
from tests.factories import TemplateFactory

pytestmark = pytest.mark.django_db

migration = import_module("apps.providers.migrations.0006_templates_name_renamed_init_roles")


def test_templates_follow_the_renamed_role_and_back():
    old = TemplateFactory(
        init_method="ansible",
        init_profile="profile_example, extra_role",
        init_vars={"dcp_ntp_servers": ["ntp1"], "dcp_profile_packages": ["jq"]},
    )
    untouched = TemplateFactory(init_profile="other", init_vars={"dcp_ntp_servers": ["ntp1"]})
    forwards, backwards = migration.Migration.operations[0].code, migration.Migration.operations[0].reverse_code

    forwards(apps, None)
    old.refresh_from_db()
    assert old.init_profile == "dcp_profile_example,extra_role"
    assert old.init_vars == {"dcp_ntp_servers": ["ntp1"], "dcp_profile_example_packages": ["jq"]}
    assert MachineTemplate.objects.get(pk=untouched.pk).init_profile == "other"

    backwards(apps, None)
    old.refresh_from_db()
    assert old.init_profile == "profile_example,extra_role"
    assert old.init_vars == {"dcp_ntp_servers": ["ntp1"], "dcp_profile_packages": ["jq"]}
