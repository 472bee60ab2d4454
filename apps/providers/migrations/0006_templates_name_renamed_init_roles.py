"""Machine templates follow the init roles' new names: the example profile role is dcp_profile_example and its variable
dcp_profile_example_packages (ansible-lint's production profile wants a role's variables prefixed with its name).
A template that named the old ones would otherwise fail at its next initialization."""

from django.db import migrations

PROFILES = {"profile_example": "dcp_profile_example"}
VARIABLES = {"dcp_profile_packages": "dcp_profile_example_packages"}


def rename(mapping_profiles: dict, mapping_variables: dict):
    def forwards(apps, schema_editor):
        MachineTemplate = apps.get_model("providers", "MachineTemplate")
        for template in MachineTemplate.objects.all().only("pk", "init_profile", "init_vars"):
            names = [name.strip() for name in (template.init_profile or "").split(",") if name.strip()]
            profile = ",".join(mapping_profiles.get(name, name) for name in names)
            variables = template.init_vars
            if isinstance(variables, dict):
                variables = {mapping_variables.get(key, key): value for key, value in variables.items()}
            if profile != ",".join(names) or variables != template.init_vars:
                MachineTemplate.objects.filter(pk=template.pk).update(init_profile=profile, init_vars=variables)

    return forwards


class Migration(migrations.Migration):
    dependencies = [("providers", "0005_money_not_negative")]

    operations = [
        migrations.RunPython(
            rename(PROFILES, VARIABLES),
            rename({v: k for k, v in PROFILES.items()}, {v: k for k, v in VARIABLES.items()}),
        )
    ]
