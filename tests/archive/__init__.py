"""Tests of the archive index and C-FIND matching."""
