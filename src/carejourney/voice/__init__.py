"""Voice of the patient at ingest: sentiment scorers (``scoring``), the topic taxonomy
(``topics``) and feedback enrichment (``enrich``: scrub, score, tag, place on the journey)."""
