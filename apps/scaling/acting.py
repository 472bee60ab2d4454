"""Scaling a pool for a schedule or a policy: through the same scale service as a person's request.

The target is held within the bounds given (the pool's, or a policy's inside them); what the scale
service refuses (an enforced budget, a pool without templates) is answered as an outcome to record,
never raised, so that the trigger that asked is recorded with its decision either way.
"""

from dataclasses import dataclass

from apps.core import sentences
from apps.core.exceptions import ServiceError
from apps.costs.budgets.guard import BudgetExceeded
from apps.inventory.models import ServicePool
from apps.provisioning import services
from apps.provisioning.models import Job

SCALED = "scaled"
UNCHANGED = "unchanged"
AT_BOUND = "at_bound"
BUDGET_REFUSED = "budget_refused"
REFUSED = "refused"


@dataclass
class Outcome:
    """What asking for a size came to: a status (scaled, unchanged, at_bound, budget_refused, refused)."""

    status: str
    size_before: int
    size_after: int
    message: str
    job: Job | None = None


def locked_pool(pool_id: int) -> ServicePool:
    """The pool, locked as the scale service locks it (in the caller's transaction)."""
    return ServicePool.objects.select_for_update(no_key=True).get(pk=pool_id)


def scale_to(pool: ServicePool, wanted: int, trigger: str, low: int, high: int) -> Outcome:
    """Ask the scale service for wanted hosts, held within low..high; pool is locked by the caller."""
    before = pool.desired_size
    target = min(max(wanted, low), high)
    held = {} if target == wanted else {"wanted": wanted, "low": low, "high": high}
    if target == before:
        status = AT_BOUND if held else UNCHANGED
        said = sentences.ALREADY_AT_HELD(size=before, **held) if held else sentences.ALREADY_AT(size=before)
        return Outcome(status, before, before, said)
    try:
        result = services.scale(pool.pk, None, services.ScaleRequest(desired_size=target), trigger=trigger)
    except BudgetExceeded as exc:
        return Outcome(BUDGET_REFUSED, before, before, exc.message)
    except ServiceError as exc:
        return Outcome(REFUSED, before, before, exc.message)
    job = result.job
    said = (
        sentences.SCALED_HELD(job=job.pk, before=before, after=target, **held)
        if held
        else sentences.SCALED(job=job.pk, before=before, after=target)
    )
    return Outcome(SCALED, before, target, said, job)
