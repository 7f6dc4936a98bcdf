"""Readroom server: imaging (studies, series, instances, ingest, DICOMweb)."""
