"""Privacy by construction: keyed pseudonyms, Safe-Harbor generalisation, PHI scrubbing of
free text, and small-cell suppression of every output."""

from .keys import create_key_file, load_key
from .pseudonymise import age_band, age_band_labels, normalise_identifier, pseudonym, zip3
from .suppression import CellRules, Suppressed, suppress

__all__ = ["create_key_file", "load_key", "age_band", "age_band_labels", "normalise_identifier",
           "pseudonym", "zip3", "CellRules", "Suppressed", "suppress"]
