"""Sending a report by e-mail: an HTML summary with a plain-text alternative and the report's files attached.

A failed send is tried again later, the wait doubling from
DCP_COST_REPORT_RETRY_SECONDS, and after DCP_COST_REPORT_ATTEMPTS tries the
report is marked failed with the last error: a report is never dropped silently.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from apps.console.i18n import language_of_address
from apps.costs.currencies import round_money
from apps.costs.reports import files
from apps.costs.reports.choices import Delivery
from apps.costs.reports.models import CostReport

logger = logging.getLogger(__name__)

DELIVERY_FIELDS = ("attempts", "delivery", "delivered_at", "next_attempt_at", "delivery_error")
#: Rows shown in the e-mail's summary; the attached files hold them all.
TOP_ROWS = 10


def summary(report: CostReport) -> dict:
    """What the e-mail says: period, total and its change, the costliest rows, unpriced hours, missing rates."""
    top = sorted(report.rows, key=lambda row: Decimal(row["cost"]), reverse=True)[:TOP_ROWS]
    schedule = report.schedule
    zone = ZoneInfo(schedule.time_zone)
    return {
        "start": f"{report.period_start.astimezone(zone):%Y-%m-%d %H:%M}",
        "end": f"{report.period_end.astimezone(zone):%Y-%m-%d %H:%M}",
        "report": report,
        "schedule": schedule,
        "scope": schedule.cluster.name if schedule.cluster_id else _("every cluster its owner may see"),
        "total": round_money(report.total, report.currency),
        "previous_total": round_money(report.previous_total, report.currency),
        "change": round_money(files.change(report), report.currency),
        "top": top,
        "more": max(len(report.rows) - len(top), 0),
        "unpriced": report.unpriced_host_hours > 0,
    }


def messages(report: CostReport) -> list[EmailMultiAlternatives]:
    """The report's e-mails: one per language its schedule's recipients read (each user's choice, else DCP_LANGUAGE)."""
    by_language: dict[str, list[str]] = {}
    for address in report.schedule.recipients:
        by_language.setdefault(language_of_address(address), []).append(address)
    return [message(report, to, language) for language, to in by_language.items()]


def message(report: CostReport, to: list[str] | None = None, language: str | None = None) -> EmailMultiAlternatives:
    """The e-mail of a report in one language, addressed to ``to`` (default: its schedule's recipients)."""
    with translation.override(language or settings.DCP_LANGUAGE):
        context = summary(report)
        subject = _("DCP cost report %(name)s: %(start)s to %(end)s, %(total)s %(currency)s") % {
            "name": report.schedule.name,
            "start": context["start"],
            "end": context["end"],
            "total": context["total"],
            "currency": report.currency,
        }
        text = render_to_string("costs/report_email.txt", context)
        html = render_to_string("costs/report_email.html", context)
    mail = EmailMultiAlternatives(
        subject=subject.replace("\n", " "),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(report.schedule.recipients) if to is None else to,
    )
    mail.attach_alternative(html, "text/html")
    for kind in report.schedule.formats:
        mail.attach(files.filename(report, kind), files.render(report, kind), files.CONTENT_TYPES[kind])
    return mail


def wait(attempts: int) -> timedelta:
    """How long after its attempts-th failed try a report's e-mail is tried again."""
    return timedelta(seconds=settings.DCP_COST_REPORT_RETRY_SECONDS * 2 ** (attempts - 1))


def deliver(report_id: int, now: datetime) -> float | None:
    """Try to send a report's e-mail if a try is due; seconds until the next try after a failure, else None.

    The report's row stays locked while it is sent: a second delivery of the same
    report running at once skips it instead of sending it twice.
    """
    with transaction.atomic():
        report = (
            CostReport.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("schedule__cluster")
            .filter(pk=report_id, delivery=Delivery.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if report is None:
            return None
        report.attempts += 1
        try:
            for mail in messages(report):
                mail.send()
        except Exception as exc:  # noqa: BLE001 - whatever the mail server or network did, it is recorded
            report.delivery_error = f"{type(exc).__name__}: {exc}"[:500]
            logger.warning("cost report %s e-mail failed (try %s): %s", report.pk, report.attempts, exc)
            if report.attempts >= settings.DCP_COST_REPORT_ATTEMPTS:
                report.delivery, report.next_attempt_at = Delivery.FAILED, None
            else:
                report.next_attempt_at = now + wait(report.attempts)
        else:
            report.delivery, report.delivered_at, report.next_attempt_at = Delivery.SENT, now, None
            report.delivery_error = ""
        report.save(update_fields=[*DELIVERY_FIELDS, "updated_at"])
    if report.delivery == Delivery.PENDING:
        return (report.next_attempt_at - now).total_seconds()
    return None
