"""REST API of personalization: search, the current user (profile, export, erasure)."""
