"""The demo county behind `manage.py seed_demo`: invented but realistic data, deterministic by seed.

The top of the import layers: it calls the domain apps' services (org, accounts, catalog, workorders,
sos, points, volunteers) and the dashboards' rebuild, and nothing imports it (tests/test_layers.py)."""
