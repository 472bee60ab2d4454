"""The provider account page: its templates, a page of its hosts, its API rate limits and its price rows.

Credentials are never shown; the endpoint and options only to system
administrators, as the API shows them.
"""

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import get_object_or_404, render

from apps.console.generic import shown
from apps.console.lists import HOSTS
from apps.console.paging import paged
from apps.costs.models import Price
from apps.inventory.models import HOST_PAGE_DEFERS, Host
from apps.providers import ratelimit
from apps.providers.models import CloudAccount, MachineTemplate

HOSTS_PER_PAGE = 50
PRICES_PER_PAGE = 50


def rate_limits(account: CloudAccount) -> list[dict]:
    """Per API action, the buckets its calls take from (the account's overrides marked as such)."""
    overrides = (account.options or {}).get("rate_limits") or {}
    found = []
    for action in ratelimit.ACTIONS:
        for name, bucket in sorted(ratelimit.limits_for(account, action).items()):
            found.append(
                {
                    "action": action,
                    "bucket": name,
                    "size": bucket.size,
                    "rate": bucket.rate,
                    "overridden": name in (overrides.get(action) or {}),
                }
            )
    return found


@login_required
def provider_detail(request, account_id: int):
    """A provider account: templates, hosts of the user's clusters on it, rate limits, price catalog rows."""
    account = get_object_or_404(CloudAccount.objects.restrict(request.user), pk=account_id)
    templates = MachineTemplate.objects.restrict(request.user).filter(provider=account).order_by("name", "pk")
    hosts = (
        Host.objects.restrict(request.user)
        .filter(provider=account)
        .select_related("pool__cluster", "provider", "template")
        .defer(*HOST_PAGE_DEFERS)
        .order_by("pk")
    )
    prices = Price.objects.filter(Q(provider=account) | Q(provider__isnull=True, kind=account.kind)).order_by(
        "instance_type", "region", "zone", "-valid_from", "pk"
    )
    context = {
        "section": "providers",
        "account": account,
        "show_endpoint": request.user.is_system_admin,
        "templates": templates,
        "hosts": shown(request, HOSTS, hosts, HOSTS_PER_PAGE, param="hosts_page"),
        "limits": rate_limits(account),
        "prices": paged(request, prices, PRICES_PER_PAGE, param="prices_page"),
    }
    return render(request, "console/provider.html", context)
