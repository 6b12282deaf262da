"""The demo ships sample patient-facing pages so the report's plain-language view has data:
one written plainly (discharge instructions) and two that are not (service page, bill)."""

from pathlib import Path

import carejourney.pipeline as pipeline
from carejourney.content import audit_paths

SAMPLES = Path(pipeline.__file__).parent / "synth" / "content"


def test_sample_content_shows_plain_and_hard_pages():
    audits = {Path(a.path).name: a for a in audit_paths([SAMPLES])}
    assert set(audits) == {"service-joint-replacement.html", "discharge-instructions-knee.md",
                           "billing-statement-letter.txt"}
    assert audits["discharge-instructions-knee.md"].fk_grade <= 8
    assert audits["billing-statement-letter.txt"].fk_grade > 12
    assert audits["service-joint-replacement.html"].fk_grade > 12
