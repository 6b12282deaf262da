"""Optional engines. Nothing here is imported by the core unless a Spark store is configured."""
