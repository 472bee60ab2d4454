"""Console pages. Every page needs a login and shows only what restrict() allows."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from apps.inventory.api import pool_counts
from apps.inventory.models import ServicePool


@login_required
def home(request):
    """The pools the user may see, with their sizes."""
    pools = pool_counts(ServicePool.objects.restrict(request.user).select_related("cluster"))
    return render(request, "console/home.html", {"pools": pools})
