"""Provider kinds, their credential keys, and initialization methods."""

from apps.core.choices import ChoiceSet


class ProviderKind(ChoiceSet):
    """Where hosts come from."""

    AWS = "aws"
    ALIYUN = "aliyun"
    OPENSTACK = "openstack"
    PHYSICAL = "physical"
    LIBCLOUD = "libcloud"
    CHOICES = (
        (AWS, "AWS EC2"),
        (ALIYUN, "Aliyun ECS"),
        (OPENSTACK, "OpenStack"),
        (PHYSICAL, "Physical machines"),
        (LIBCLOUD, "Apache Libcloud"),
    )

    # Credential keys per kind: (required, optional).
    CREDENTIALS = {
        AWS: (("access_key_id", "secret_access_key"), ("session_token",)),
        ALIYUN: (("access_key_id", "access_key_secret"), ()),
        OPENSTACK: (
            ("auth_url", "username", "password", "project_name"),
            ("user_domain_name", "project_domain_name"),
        ),
        LIBCLOUD: (("driver", "key"), ("secret",)),
        PHYSICAL: ((), ()),
    }


class InitMethod(ChoiceSet):
    """How a new host is brought to its base state."""

    ANSIBLE = "ansible"
    PUPPET = "puppet"
    NONE = "none"
    CHOICES = ((ANSIBLE, "Ansible"), (PUPPET, "Puppet"), (NONE, "None"))
