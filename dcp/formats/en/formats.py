"""English formats: Django's, with seconds and the time zone on every time (ops read logs side by side)."""

DATETIME_FORMAT = "M j, Y, H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
TIME_FORMAT = "H:i:s T"
DATE_FORMAT = "M j, Y"
SHORT_DATE_FORMAT = "Y-m-d"
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
