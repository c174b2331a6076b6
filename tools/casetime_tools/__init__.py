"""The tools people run beside casetime: the ``casetime`` command line and the synthetic
council it generates and posts. Not part of any service: they may use the KPI domain (its
working-day calendar and periods), which the shared contract must not."""
