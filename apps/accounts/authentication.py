"""`Authorization: Token <key>` authentication against hashed tokens."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from apps.accounts.models import Token, hash_key


class TokenAuthentication(authentication.TokenAuthentication):
    """Looks a token up by the hash of its key; refuses expired tokens and inactive users."""

    model = Token

    def authenticate_credentials(self, key):
        """Return (user, token) for a valid key."""
        try:
            token = Token.objects.select_related("user").get(key_hash=hash_key(key))
        except Token.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if token.expired:
            raise exceptions.AuthenticationFailed("Token has expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User is inactive.")
        now = timezone.now()
        # Writing on every request would turn reads into writes; a minute is precise enough.
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            Token.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token
