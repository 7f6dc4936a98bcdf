"""Readroom server: intake API, DICOMweb, reports, fax delivery and the admin CLI."""
