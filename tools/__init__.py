"""Self-checks of the suite that are not part of it: the soak and the detector validation (never
shipped in the images)."""
