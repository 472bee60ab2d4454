"""The demo's cost report: a daily schedule of the demo cluster, and yesterday's report e-mailed at once."""

from django.conf import settings
from django.utils import timezone

from apps.costs.currencies import round_money
from apps.costs.reports import mail, periods, services
from apps.costs.reports.choices import Delivery, Frequency, ReportFormat
from apps.costs.reports.models import CostReport, CostReportSchedule

RECIPIENT = "finance@example.com"


def where_mail_goes() -> str:
    """Where DCP's e-mail ends up with the current settings, in words."""
    backend = settings.EMAIL_BACKEND.rsplit(".", 2)[-2]
    if backend == "filebased":
        return f"written as files to {settings.EMAIL_FILE_PATH} (set EMAIL_HOST to send over SMTP)"
    if backend == "console":
        return "printed on the console"
    return f"sent through {settings.EMAIL_HOST or 'localhost'}:{settings.EMAIL_PORT}"


def demo_report(cluster, owner) -> str:
    """Make the schedule if missing, make and send yesterday's report if missing; what happened, in words."""
    schedule, _ = CostReportSchedule.objects.get_or_create(
        name="demo daily costs",
        cluster=cluster,
        defaults={
            "owner": owner,
            "group_by": "pool",
            "currency": settings.DCP_CURRENCY,
            "frequency": Frequency.DAILY,
            "time_zone": settings.DCP_TIME_ZONE,
            "formats": [ReportFormat.CSV, ReportFormat.XLSX],
            "recipients": [RECIPIENT],
        },
    )
    now = timezone.now()
    yesterday = periods.closed(now, schedule.frequency, schedule.time_zone, 1)[0]
    report = services.make_report(schedule.pk, yesterday, now, queue=False)
    if report is not None:
        mail.deliver(report.pk, now)
        report.refresh_from_db()
    else:
        report = CostReport.objects.filter(schedule=schedule, period_start=yesterday[0]).first()
    told = (
        f"Cost reports: '{schedule.name}' e-mails {', '.join(schedule.recipients)} each day; "
        f"e-mail is {where_mail_goes()}."
    )
    if report is None:
        return told
    if report.delivery == Delivery.SENT:
        return f"{told} Yesterday's report ({round_money(report.total, report.currency)} {report.currency}) was sent."
    return f"{told} Yesterday's report is made but not sent yet: {report.delivery_error or report.delivery}."
