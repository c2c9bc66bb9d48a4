"""dicomnet: DICOM networking for Python with pynetdicom's API on a sans-IO core."""

__version__ = "0.1.0"

__all__ = ["__version__"]
