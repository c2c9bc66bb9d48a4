"""The archive: an SQL index of stored instances and C-FIND matching (dicomnet qrscp)."""
