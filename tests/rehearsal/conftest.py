"""The budget tests' proxy with a budget and a clock, shared: a budget is what a missing grant broke."""

from tests.proxy.test_budgets import budgeted  # noqa: F401 (a fixture)
