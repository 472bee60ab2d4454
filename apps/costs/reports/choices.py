"""Choice sets of cost reports: how often, in which files, and how far an e-mail got."""

from apps.core.choices import ChoiceSet
from apps.costs.budgets.choices import DeliveryStatus


class Frequency(ChoiceSet):
    """How often a schedule reports: each time a calendar day, week (from Monday) or month closes."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    CHOICES = ((DAILY, "Daily"), (WEEKLY, "Weekly"), (MONTHLY, "Monthly"))


class ReportFormat(ChoiceSet):
    """The files a report is attached as, and downloaded in."""

    CSV = "csv"
    XLSX = "xlsx"
    CHOICES = ((CSV, "CSV"), (XLSX, "Excel workbook (XLSX)"))


# A report's e-mail is where a budget alert's delivery can be: waiting for its (next) try, sent, or failed.
Delivery = DeliveryStatus
