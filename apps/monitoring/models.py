"""Counters that every process adds to and /metrics reads: events that leave no other trace in the database."""

from django.db import models


class CounterValue(models.Model):
    """The running total of one counter for one set of labels (e.g. provider errors of one account and call).

    Worker processes on any machine add to it (apps.monitoring.counters.increment), so every web process
    reads the same total at scrape time and a restart loses nothing. ``labels`` is the labels' canonical
    JSON (sorted keys), so one set of labels is one row. A few rows are gauges a periodic task sets
    instead (figures too slow to compute at every scrape, such as budgets' spend).
    """

    name = models.CharField(max_length=100)
    labels = models.CharField(max_length=500)
    value = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ("name", "labels")
        constraints = [models.UniqueConstraint(fields=("name", "labels"), name="countervalue_unique_series")]

    def __str__(self) -> str:
        return f"{self.name}{self.labels} = {self.value}"
