"""Scheduled cost reports: schedules, the reports made for each closed period, their files and e-mails."""
