"""Voice of the patient: feedback enrichment (scrub, sentiment, topics) and content audit."""
