"""Choice sets of cost reports: how often, in which files, and how far an e-mail got."""

from apps.core.choices import ChoiceSet


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


class Delivery(ChoiceSet):
    """Where a report's e-mail is: waiting for its (next) try, sent, or failed after every try."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CHOICES = ((PENDING, "Pending"), (SENT, "Sent"), (FAILED, "Failed"))
    ACTIVE = (PENDING,)
    TERMINAL = (SENT, FAILED)
