"""The journey report: one self-contained HTML file (optionally PDF) with the journey map and the
supporting views, every number traceable to its suppressed analysis result.

Entry point: :func:`carejourney.reports.render.write_report`. Layout: ``render`` (the whole
file), ``sections/`` (one adapter per view family, registered in display order), ``journey_map``
(the map's columns and lanes), ``charts`` (Plotly figures from aggregates), ``format``
(numbers, with small counts of people refused), ``theme`` (WCAG AA colours), ``glossary``.
"""
