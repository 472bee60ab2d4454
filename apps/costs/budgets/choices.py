"""Choice sets of budgets: periods, statuses, what a threshold is of, and how alerts are delivered."""

from apps.core.choices import ChoiceSet


class BudgetPeriod(ChoiceSet):
    """The calendar period a budget covers, in DCP_TIME_ZONE."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    CHOICES = ((MONTH, "Month"), (QUARTER, "Quarter"), (YEAR, "Year"))


class BudgetStatus(ChoiceSet):
    """Where a budget stands this period: a threshold or the forecast past the amount warns; spend past it exceeds."""

    OK = "ok"
    WARNING = "warning"
    EXCEEDED = "exceeded"
    CHOICES = ((OK, "OK"), (WARNING, "Warning"), (EXCEEDED, "Exceeded"))


class AlertBasis(ChoiceSet):
    """What a threshold is a percentage of: spend so far, or the period's forecast."""

    ACTUAL = "actual"
    FORECAST = "forecast"
    CHOICES = ((ACTUAL, "Actual spend"), (FORECAST, "Forecast spend"))


class DeliveryChannel(ChoiceSet):
    """How an alert reaches a recipient."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    CHOICES = ((EMAIL, "E-mail"), (WEBHOOK, "Webhook"))


class WebhookShape(ChoiceSet):
    """The body a webhook is sent: DCP's own JSON, or a DingTalk or WeCom group robot's markdown message."""

    JSON = "json"
    DINGTALK = "dingtalk"
    WECOM = "wecom"
    CHOICES = ((JSON, "JSON"), (DINGTALK, "DingTalk robot"), (WECOM, "WeCom robot"))


class DeliveryStatus(ChoiceSet):
    """Where a delivery is: waiting for its (next) try, sent, or failed after its last try."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CHOICES = ((PENDING, "Pending"), (SENT, "Sent"), (FAILED, "Failed"))
    ACTIVE = (PENDING,)
    TERMINAL = (SENT, FAILED)
