"""Console URLs of the accounts app."""

from django.urls import path

from apps.accounts import views

app_name = "accounts"
urlpatterns = [
    path("account/", views.account, name="account"),
    path("account/tokens/new/", views.token_create, name="token-create"),
    path("account/password/", views.password_change, name="password"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token-revoke"),
    path("users/", views.user_list, name="users"),
    path("users/<int:user_id>/tokens/", views.user_tokens, name="user-tokens"),
    path("users/<int:user_id>/tokens/revoke/", views.user_tokens_revoke, name="user-tokens-revoke"),
]
