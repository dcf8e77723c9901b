"""The demo county generator behind `manage.py seed_demo`: invented but realistic data, deterministic by seed."""
