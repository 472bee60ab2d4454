"""Scaling app: schedules and alert-triggered policies that scale pools through the one scale service."""

from django.apps import AppConfig


class ScalingConfig(AppConfig):
    """Configuration of the scaling app.

    Its own app rather than part of provisioning: schedules, policies, their webhook and their history are
    a client of the engine (they ask provisioning.services.scale, as a person does), not part of it.
    """

    name = "apps.scaling"
    label = "scaling"
