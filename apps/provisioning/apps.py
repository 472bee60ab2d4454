"""Provisioning app: scale jobs, placement, the reconciler, state transitions, tasks."""

from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    """Configuration of the provisioning app."""

    name = "apps.provisioning"
    label = "provisioning"
