"""Cost accounting: the dated price catalog, exchange rates, accrual per host life, cost queries."""
