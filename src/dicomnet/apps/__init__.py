"""DCMTK-style command-line applications: ``dicomnet <app> ...`` and ``python -m dicomnet <app>``."""
