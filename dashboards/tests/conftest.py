from workorders.tests.conftest import clock, fake_gateway  # noqa: F401 - the same fixtures here
