"""Accounts app: users, cluster membership and roles, API tokens."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Configuration of the accounts app."""

    name = "apps.accounts"
    label = "accounts"
