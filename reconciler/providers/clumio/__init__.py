"""clumio."""
