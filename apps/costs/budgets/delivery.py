"""Budget alerts: each threshold crossed fires once per period, and reaches every recipient or is shown failed.

Firing is an INSERT of the alert row, unique per budget, threshold and period:
two beats checking at once, or a check run again after a restart, find the row
there and fire nothing. The alert's deliveries (one per recipient) are rows
too, tried at once and again with back-off (DCP_BUDGET_RETRY_SECONDS, doubling)
until sent or, after DCP_BUDGET_DELIVERY_ATTEMPTS tries, failed.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.console.i18n import language_of_address
from apps.console.labels import label
from apps.costs.budgets.choices import AlertBasis, DeliveryChannel, DeliveryStatus, WebhookShape
from apps.costs.budgets.figures import BudgetFigures, figures_of
from apps.costs.budgets.models import AlertDelivery, Budget, BudgetAlert
from apps.costs.budgets.serializers import redacted
from apps.costs.currencies import round_money
from apps.monitoring.spend import record_budget_figures

logger = logging.getLogger(__name__)

#: Seconds a webhook may take to answer; how much of its answer an error keeps.
WEBHOOK_TIMEOUT = 10
ERROR_CHARS = 300


class DeliveryError(Exception):
    """A recipient did not take the alert (the message says why, without secrets)."""


def check_budgets(now: datetime) -> list[BudgetAlert]:
    """Fire every threshold crossed now that has not fired this period; the new alerts' deliveries are due.
    Every budget's figures are also kept for /metrics, which could not compute them at each scrape."""
    budgets = list(Budget.objects.select_related("cluster", "pool"))
    found = figures_of(budgets, now)
    record_budget_figures(found.values())
    fired = []
    for figures in found.values():
        for threshold in figures.crossed():
            alert = _fire(figures, threshold)
            if alert is not None:
                fired.append(alert)
    return fired


def _fire(figures: BudgetFigures, threshold: dict) -> BudgetAlert | None:
    """The alert row and its deliveries, or None when this threshold already fired this period."""
    budget, f = figures.budget, figures.figures
    try:
        with transaction.atomic():
            alert = BudgetAlert.objects.create(
                budget=budget,
                period_start=f.start,
                period_end=f.end,
                percent=threshold["percent"],
                of=threshold["of"],
                amount=budget.amount,
                currency=budget.currency,
                spent=round_money(f.spent, budget.currency),
                forecast=round_money(f.forecast, budget.currency),
            )
            AlertDelivery.objects.bulk_create([_delivery(alert, item, f.now) for item in budget.notify])
    except IntegrityError:
        return None  # fired already this period, by this beat earlier or another one now
    transaction.on_commit(lambda: _queue(alert.pk))
    return alert


def _delivery(alert: BudgetAlert, item: dict, now: datetime) -> AlertDelivery:
    if "email" in item:
        return AlertDelivery(alert=alert, channel=DeliveryChannel.EMAIL, target=item["email"], next_attempt=now)
    return AlertDelivery(
        alert=alert,
        channel=DeliveryChannel.WEBHOOK,
        target=redacted(item["url"]),
        url=item["url"],
        shape=item.get("shape", WebhookShape.JSON),
        next_attempt=now,
    )


def _queue(alert_id: int) -> None:
    from apps.costs.budgets.tasks import deliver_alert

    deliver_alert.delay(alert_id)


def due(now: datetime) -> list[int]:
    """Ids of deliveries waiting for a try whose time has come."""
    return list(
        AlertDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt__lte=now)
        .order_by("next_attempt", "pk")
        .values_list("pk", flat=True)[:1000]
    )


def attempt(delivery_id: int, now: datetime | None = None) -> str | None:
    """Try one pending, due delivery once, under its row lock; the status it is left in (None: not due)."""
    with transaction.atomic():
        delivery = (
            AlertDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("alert__budget__cluster", "alert__budget__pool")
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING)
            .first()
        )
        now = now or timezone.now()
        if delivery is None or (delivery.next_attempt and delivery.next_attempt > now):
            return None
        delivery.attempts += 1
        try:
            send(delivery)
        except DeliveryError as exc:
            _failed(delivery, str(exc)[:ERROR_CHARS], now)
        else:
            delivery.status, delivery.sent_at = DeliveryStatus.SENT, now
            delivery.next_attempt, delivery.last_error = None, ""
        delivery.save(update_fields=["attempts", "status", "sent_at", "next_attempt", "last_error", "updated_at"])
        return delivery.status


def _failed(delivery: AlertDelivery, error: str, now: datetime) -> None:
    """Another try later (the wait doubling), or failed for good after the last one."""
    delivery.last_error = error
    logger.warning(
        "budget alert %s to %s failed (try %s): %s", delivery.alert_id, delivery.target, delivery.attempts, error
    )
    if delivery.attempts >= settings.DCP_BUDGET_DELIVERY_ATTEMPTS:
        delivery.status, delivery.next_attempt = DeliveryStatus.FAILED, None
        return
    wait = settings.DCP_BUDGET_RETRY_SECONDS * 2 ** (delivery.attempts - 1)
    delivery.next_attempt = now + timedelta(seconds=wait)


def retry_in(delivery_id: int) -> float | None:
    """Seconds until a pending delivery's next try (None: not pending)."""
    delivery = AlertDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).first()
    if delivery is None or delivery.next_attempt is None:
        return None
    return max(0.0, (delivery.next_attempt - timezone.now()).total_seconds())


def send(delivery: AlertDelivery) -> None:
    """Send the alert to the recipient; DeliveryError when it is not taken."""
    if delivery.channel == DeliveryChannel.EMAIL:
        _email(delivery)
    else:
        _webhook(delivery)


class Message:
    """What an alert says, as a title, plain text and markdown."""

    def __init__(self, alert: BudgetAlert):
        """Word the alert in the active language (the caller picks it: the recipient's, else DCP_LANGUAGE)."""
        budget = alert.budget
        money = lambda value: f"{round_money(value, alert.currency)} {alert.currency}"  # noqa: E731
        if budget.pool_id:
            scope = _("pool %(cluster)s/%(pool)s") % {"cluster": budget.cluster.name, "pool": budget.pool.name}
        else:
            scope = _("cluster %(cluster)s") % {"cluster": budget.cluster.name}
        basis = _("actual spend") if alert.of == AlertBasis.ACTUAL else _("forecast spend")
        name = budget.name or budget.pk
        self.alert = alert
        self.title = _("DCP budget %(name)s: %(percent)s%% of %(basis)s reached") % {
            "name": name,
            "percent": alert.percent,
            "basis": basis,
        }
        used = alert.spent * 100 / alert.amount
        expected = alert.forecast * 100 / alert.amount
        self.lines = [
            _("Budget: %(name)s (%(scope)s)") % {"name": name, "scope": scope},
            _("Period: %(start)s to %(end)s (%(period)s)")
            % {
                "start": f"{alert.period_start:%Y-%m-%d}",
                "end": f"{alert.period_end:%Y-%m-%d}",
                "period": label(budget.period),
            },
            _("Threshold: %(percent)s%% of %(basis)s") % {"percent": alert.percent, "basis": basis},
            _("Amount: %(amount)s") % {"amount": money(alert.amount)},
            _("Spent: %(spent)s (%(used).1f%%)") % {"spent": money(alert.spent), "used": used},
            _("Forecast: %(forecast)s (%(expected).1f%%)") % {"forecast": money(alert.forecast), "expected": expected},
        ]

    @property
    def text(self) -> str:
        """The plain-text body."""
        return "\n".join([self.title, "", *self.lines])

    @property
    def markdown(self) -> str:
        """The body as a robot's markdown message."""
        return "\n".join([f"### {self.title}", *(f"- {line}" for line in self.lines)])

    def as_json(self) -> dict:
        """DCP's own webhook body."""
        alert, budget = self.alert, self.alert.budget
        return {
            "event": "budget.threshold",
            "title": self.title,
            "text": self.text,
            "budget": budget.pk,
            "name": budget.name,
            "cluster": budget.cluster.name,
            "pool": budget.pool.name if budget.pool_id else None,
            "period": budget.period,
            "period_start": alert.period_start.isoformat(),
            "period_end": alert.period_end.isoformat(),
            "threshold": {"percent": alert.percent, "of": alert.of},
            "currency": alert.currency,
            # Decimal strings as the cost API writes money: to the currency's minor unit ("100.00", never "1E+2").
            "amount": str(round_money(alert.amount, alert.currency)),
            "spent": str(round_money(alert.spent, alert.currency)),
            "forecast": str(round_money(alert.forecast, alert.currency)),
        }

    def body(self, shape: str) -> dict:
        """The webhook body of shape."""
        if shape == WebhookShape.DINGTALK:
            return {"msgtype": "markdown", "markdown": {"title": self.title, "text": self.markdown}}
        if shape == WebhookShape.WECOM:
            return {"msgtype": "markdown", "markdown": {"content": self.markdown}}
        return self.as_json()


def _email(delivery: AlertDelivery) -> None:
    with translation.override(language_of_address(delivery.target)):
        message = Message(delivery.alert)
    try:
        EmailMessage(message.title, message.text, settings.DEFAULT_FROM_EMAIL, [delivery.target]).send()
    except Exception as exc:  # smtplib's errors, refused connections, timeouts, a backend's own errors
        raise DeliveryError(f"e-mail not accepted: {type(exc).__name__}: {exc}") from None


def _webhook(delivery: AlertDelivery) -> None:
    with translation.override(settings.DCP_LANGUAGE):
        body = json.dumps(Message(delivery.alert).body(delivery.shape)).encode()
    request = urllib.request.Request(  # noqa: S310 - the URL was checked to be http(s)
        delivery.url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": "DCP"}
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:  # noqa: S310 - http(s) only
            answer = response.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"{delivery.target} answered HTTP {exc.code}") from None
    except (OSError, ValueError) as exc:
        raise DeliveryError(f"{delivery.target} unreachable: {type(exc).__name__}") from None
    if delivery.shape in (WebhookShape.DINGTALK, WebhookShape.WECOM):
        _robot_answer(delivery, answer)


def _robot_answer(delivery: AlertDelivery, answer: bytes) -> None:
    """DingTalk and WeCom robots answer 200 with {"errcode": 0} on success, another errcode on refusal."""
    try:
        data = json.loads(answer or b"{}")
    except ValueError:
        raise DeliveryError(f"{delivery.target} answered something that is not JSON") from None
    code = data.get("errcode", 0) if isinstance(data, dict) else None
    if code != 0:
        errmsg = str(data.get("errmsg", ""))[:100] if isinstance(data, dict) else ""
        raise DeliveryError(f"{delivery.target} refused the message: errcode {code} {errmsg}".rstrip())
