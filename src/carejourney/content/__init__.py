"""Plain-language audit of patient-facing content: reading grade, sentence length, passive
voice, unexplained jargon and missing essentials per touchpoint type (see docs/voice.md)."""

from .audit import DocumentAudit, audit_file, audit_paths, findings, guess_touchpoint_type

__all__ = ["DocumentAudit", "audit_file", "audit_paths", "findings", "guess_touchpoint_type"]
