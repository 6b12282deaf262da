"""Reading tabular exports (CSV, Parquet, JSONL) into Arrow, and turning mapped columns into
staged rows. Shared by the file connector and the CSV-based system exports (leads, calls…).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from ..errors import IngestError
from ..model.events import NEEDS, OPTIONAL_EVENT_FIELDS, conform
from .base import REJECTS, STAGED_EVENTS, STAGED_LINKS, STAGED_SUBJECTS, rejects_table
from .timeparse import ACCEPTED_FORMATS, parse_timestamps

__all__ = ["read_table", "read_parquet_batches", "read_jsonl_records", "detect_format", "stage_rows", "IDENTIFIER_COLUMNS", "is_identifier_column",
           "TRUE_VALUES", "FALSE_VALUES"]

#: Column names that carry direct identifiers. They are never stored; email / phone / mrn /
#: ssn values are kept only as keyed link hashes for identity stitching.
IDENTIFIER_COLUMNS = {
    "name", "first_name", "last_name", "given_name", "family_name", "full_name", "patient_name",
    "middle_name", "email", "email_address", "phone", "phone_number", "mobile", "telephone",
    "fax", "address", "street", "street_address", "address_line", "address1", "address2",
    "city", "ssn", "social_security_number", "mrn", "medical_record_number", "dob",
    "date_of_birth", "birth_date", "birthdate", "ip", "ip_address", "url", "license", "drivers_license",
    "passport", "account_number", "member_id", "beneficiary_id", "zip", "zipcode", "zip_code", "postal_code",
}
_LINK_TYPES = {"email": "email", "email_address": "email", "phone": "phone", "phone_number": "phone",
               "mobile": "phone", "telephone": "phone", "mrn": "mrn", "medical_record_number": "mrn",
               "ssn": "ssn", "social_security_number": "ssn"}
_PERSON_COLUMNS = {"age_band", "age", "sex", "gender", "language", "payer_type", "zip3", *NEEDS}
TRUE_VALUES = {"true", "t", "yes", "y", "1"}
FALSE_VALUES = {"false", "f", "no", "n", "0"}


def is_identifier_column(name: str) -> bool:
    n = name.strip().lower().replace(" ", "_").replace("-", "_")
    return n in IDENTIFIER_COLUMNS or n.endswith(("_email", "_phone", "_name", "_address", "_ssn", "_dob"))


def detect_format(path: Path, declared: str = "auto") -> str:
    if declared != "auto":
        return declared
    suffixes = "".join(path.suffixes).lower()
    if suffixes.endswith((".parquet", ".pq")):
        return "parquet"
    if suffixes.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if suffixes.endswith((".csv", ".txt", ".tsv", ".csv.gz")):
        return "csv"
    raise IngestError(f"{path}: cannot tell the file format from its name; set `format: csv|parquet|jsonl` "
                      "in the source")


def read_table(path: Path, fmt: str) -> tuple[pa.Table, pa.Table]:
    """Read a file into an all-string Arrow table plus ``row_num``; returns (table, rejects).

    ``row_num`` is the 1-based data row (CSV: the first row after the header; JSONL: the line).
    Malformed CSV rows (wrong number of fields) and JSONL lines that are not JSON objects are
    returned as rejects; everything else is left to the caller to validate.
    """
    try:
        if fmt == "parquet":
            table = pq.read_table(path)
            bad: list[tuple[int, str, str]] = []
        elif fmt == "jsonl":
            table, bad = _read_jsonl(path)
        else:
            table, bad = _read_csv(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise IngestError(f"{path}: cannot read as {fmt}: {exc}. Check the file is a valid {fmt} export.") from None
    table = table.rename_columns([c.strip() for c in table.column_names])
    bad_rows = sorted(r for r, _, _ in bad)
    table = table.append_column("row_num", _row_numbers(table.num_rows, bad_rows))
    return table, rejects_table(bad)


def read_parquet_batches(path: Path, batch_rows: int = 1 << 20):
    """Yield (table, rejects) per batch of a Parquet file, ``row_num`` counting from the file's start."""
    try:
        pf = pq.ParquetFile(path)
        start = 0
        for batch in pf.iter_batches(batch_size=batch_rows):
            table = pa.Table.from_batches([batch])
            table = table.rename_columns([c.strip() for c in table.column_names])
            table = table.append_column("row_num", pa.array(np.arange(start + 1, start + table.num_rows + 1,
                                                                      dtype=np.int64)))
            start += table.num_rows
            yield table, rejects_table([])
    except (pa.ArrowInvalid, OSError) as exc:
        raise IngestError(f"{path}: cannot read as parquet: {exc}. Check the file is a valid parquet export.") from None


def _row_numbers(n: int, skipped: list[int]) -> pa.Array:
    """Row numbers of the kept rows, given the (1-based) numbers of the rows that were skipped."""
    out, skip, r = [], set(skipped), 1
    if not skip:
        return pa.array(np.arange(1, n + 1, dtype=np.int64))
    while len(out) < n:
        if r not in skip:
            out.append(r)
        r += 1
    return pa.array(out, pa.int64())


def _read_csv(path: Path):
    bad: list[tuple[int, str, str]] = []

    def handler(row):
        line = row.number if row.number is not None else -1
        bad.append((line - 1 if line > 0 else -1, "(row)",
                    f"expected {row.expected_columns} fields, found {row.actual_columns}; "
                    "check quoting and delimiters on that line"))
        return "skip"

    with open(path, "rb") as fh:
        head = fh.read(4096)
    delimiter = "\t" if head.count(b"\t") > head.count(b",") else ","
    import csv
    import io
    first = head.decode("utf-8", errors="replace").lstrip("\ufeff").splitlines()[:1]
    names = next(csv.reader(io.StringIO(first[0]), delimiter=delimiter)) if first else []
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=handler, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True, auto_dict_encode=False,
                                             include_missing_columns=False),
    )
    table = table.cast(pa.schema([(f.name, pa.string()) for f in table.schema]))
    return table, bad


def read_jsonl_records(path: Path) -> tuple[list[tuple[int, dict]], list[tuple[int, str, str]]]:
    """Line-by-line JSONL: ``(line number, object)`` per good line, and a reject per bad one.

    Blank lines are skipped; a line that is not JSON (a truncated export) or not an object is
    rejected with its line number, so the rest of the file still loads.
    """
    records, rejects = [], []
    with open(path, "rb") as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                rejects.append((i, "(line)", "not valid JSON; the line is truncated or corrupt"))
                continue
            if not isinstance(obj, dict):
                rejects.append((i, "(line)", "not a JSON object"))
                continue
            records.append((i, obj))
    return records, rejects


def _read_jsonl(path: Path):
    try:
        return pajson.read_json(path), []
    except pa.ArrowInvalid:
        pass  # a bad line somewhere: fall back to line-by-line so the rest still loads
    records, bad = read_jsonl_records(path)
    table = pa.Table.from_pylist([obj for _, obj in records]) if records else pa.table({})
    return table, bad


def _as_string(col: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return col.cast(pa.string())
    if pa.types.is_timestamp(col.type):
        return col
    if pa.types.is_struct(col.type) or pa.types.is_list(col.type) or pa.types.is_map(col.type):
        return pa.chunked_array([pa.array([None if v is None else orjson.dumps(v).decode()
                                           for v in col.to_pylist()], pa.string())])
    return col.cast(pa.string())


def stage_rows(table: pa.Table, *, mapping: dict[str, str], constants: dict[str, str], id_type: str,
               timezone: str, known_touchpoints: frozenset[str] | None, source: str,
               identifiers: dict[str, str] | None = None, attr_columns: list[str] | None = None):
    """Map columns to the staged schemas. Returns (events, subjects, links, rejects).

    mapping: canonical field -> column name (``person_id``, ``ts``, ``touchpoint``, optional fields,
    person attributes). Rows are rejected for: missing person id, unparseable timestamp, unknown
    touchpoint, non-numeric value.
    """
    cols = {c.lower(): c for c in table.column_names}
    n = table.num_rows

    def col(field: str):
        name = mapping.get(field, field)
        real = cols.get(name.lower())
        return table[real] if real is not None else None

    for required in ("person_id", "ts"):
        if col(required) is None:
            have = ", ".join(c for c in table.column_names if c != "row_num")
            raise IngestError(f"missing column '{mapping.get(required, required)}' for {required} "
                              f"(columns found: {have}). Map it in sources/*.yml: mapping: {{{required}: <column>}}")
    row_num = table["row_num"]
    pid = _as_string(col("person_id"))
    ts_raw = col("ts")
    ts = ts_raw.cast(pa.timestamp("us")) if pa.types.is_timestamp(ts_raw.type) and ts_raw.type.tz is None else (
        pc.cast(ts_raw, pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us")) if pa.types.is_timestamp(ts_raw.type)
        else parse_timestamps(_as_string(ts_raw).combine_chunks(), timezone))
    ts = ts.combine_chunks() if isinstance(ts, pa.ChunkedArray) else ts
    reasons = []
    # empty or all-whitespace, without materialising a trimmed copy of the column
    pid_missing = pc.or_kleene(pc.or_kleene(pc.is_null(pid), pc.equal(pc.utf8_length(pid), 0)), pc.utf8_is_space(pid))
    pid_missing = pc.fill_null(pid_missing, True)
    pid_missing = pid_missing.combine_chunks() if isinstance(pid_missing, pa.ChunkedArray) else pid_missing
    ts_bad = pc.is_null(ts)
    reasons.append(("person_id", pid_missing, "person id is empty; every row needs the person it belongs to"))
    ts_txt = ("timestamp is missing or not understood; expected " + ACCEPTED_FORMATS)
    reasons.append(("ts", ts_bad, ts_txt))
    fields: dict[str, pa.Array] = {}
    for f in OPTIONAL_EVENT_FIELDS + ("touchpoint",):
        c = col(f)
        if c is not None:
            fields[f] = _as_string(c)
        elif f in constants:
            fields[f] = _repeat(constants[f], n)
    if "value" in fields:
        raw = fields["value"]
        num = _to_float(raw)
        raw = raw.combine_chunks() if isinstance(raw, pa.ChunkedArray) else raw
        bad_num = pc.and_(pc.is_valid(raw), pc.is_null(num))
        reasons.append(("value", pc.fill_null(bad_num, False), "value is not a number"))
        fields["value"] = num
    if "touchpoint" in fields and known_touchpoints is not None:
        tp = fields["touchpoint"]
        unknown = pc.and_(pc.is_valid(tp), pc.invert(pc.is_in(tp, pa.array(sorted(known_touchpoints), pa.string()))))
        unknown = pc.fill_null(unknown, False)
        if pc.any(unknown).as_py():
            from ..model.journey import did_you_mean
            names = {v: f"unknown touchpoint '{v}'{did_you_mean(v, known_touchpoints)}; add it to a journey "
                        "or fix the value" for v in pc.unique(pc.filter(tp, unknown)).to_pylist()}
            reasons.append(("touchpoint", unknown, names))
    # first failing check per row wins
    bad_any = pa.array(np.zeros(n, dtype=bool))
    reject_rows = []
    for field, flags, msg in reasons:
        flags = flags.combine_chunks() if isinstance(flags, pa.ChunkedArray) else flags
        new = pc.and_(flags, pc.invert(bad_any))
        if pc.any(new).as_py():
            idx = pc.indices_nonzero(new)
            rn = pc.take(row_num, idx).to_pylist()
            if isinstance(msg, dict):
                vals = pc.take(fields["touchpoint"], idx).to_pylist()
                reject_rows += [(r, field, msg[v]) for r, v in zip(rn, vals)]
            else:
                reject_rows += [(r, field, msg) for r in rn]
        bad_any = pc.or_(bad_any, flags)
    keep = pc.invert(bad_any) if reject_rows else None  # None: every row is kept (no filtering copy)
    out = {"row_num": row_num, "id_type": _repeat(id_type, n), "id_value": pid, "ts": ts}
    for f in STAGED_EVENTS.names:
        if f in fields:
            out[f] = fields[f]
    if "source" not in fields:
        out["source"] = _repeat(source, n)
    if "episode_id" in fields:
        out["episode_ref"] = fields["episode_id"]
    extra = [c for c in (attr_columns or []) if c in table.column_names]
    if extra:
        out["attrs"] = _attrs_json(table, extra)
    events = conform(pa.table({k: v for k, v in out.items() if k in STAGED_EVENTS.names}), STAGED_EVENTS)
    events = events.filter(keep) if keep is not None else events
    subjects = _subjects(table, col, pid, id_type, row_num)
    subjects = subjects.filter(keep) if subjects.num_rows and keep is not None else subjects
    links = _links(table, pid, keep, id_type, identifiers or {}, cols)
    return events, subjects, links, rejects_table(reject_rows)


def _repeat(value: str, n: int) -> pa.Array:
    """A constant string column (one value, n rows) without building an n-item Python list."""
    return pa.repeat(pa.scalar(value, pa.string()), n)


def _to_float(raw: pa.Array) -> pa.Array:
    vals = []
    for v in raw.to_pylist():
        if v is None or str(v).strip() == "":
            vals.append(None)
            continue
        try:
            vals.append(float(str(v).replace(",", "")))
        except ValueError:
            vals.append(None)
    return pa.array(vals, pa.float64())


def _attrs_json(table: pa.Table, columns: list[str]) -> pa.Array:
    data = {c: table[c].to_pylist() for c in columns}
    out = []
    for i in range(table.num_rows):
        rec = {c: data[c][i] for c in columns if data[c][i] not in (None, "")}
        out.append(orjson.dumps(rec, default=str).decode() if rec else None)
    return pa.array(out, pa.string())


def _bool(col) -> pa.Array:
    vals = [None if v is None else (True if str(v).strip().lower() in TRUE_VALUES else
                                    False if str(v).strip().lower() in FALSE_VALUES else None)
            for v in col.to_pylist()]
    return pa.array(vals, pa.bool_())


def _subjects(table, col, pid, id_type, row_num) -> pa.Table:
    n = table.num_rows
    out = {"row_num": row_num, "id_value": pid}
    present = False
    for f, names in {"age_band": ["age_band"], "sex": ["sex", "gender"], "language": ["language"],
                     "payer_type": ["payer_type"], "zip": ["zip3", "zip", "zipcode", "zip_code", "postal_code"]}.items():
        for name in names:
            c = col(name)
            if c is not None:
                out[f] = _as_string(c).combine_chunks()
                present = True
                break
    age = col("age")
    if age is not None:
        out["age"] = pc.cast(_to_float(_as_string(age).combine_chunks()), pa.int64(), safe=False)
        present = True
    for name in ("birth_date", "date_of_birth", "dob", "birthdate"):
        c = col(name)
        if c is not None:
            parsed = parse_timestamps(_as_string(c).combine_chunks(), "UTC")
            out["birth_date"] = pc.cast(parsed, pa.date32())
            present = True
            break
    for need in NEEDS:
        c = col(need)
        if c is not None:
            out[need] = _bool(c)
            present = True
    if not present:
        return STAGED_SUBJECTS.empty_table()
    out["id_type"] = _repeat(id_type, n)
    return conform(pa.table(out), STAGED_SUBJECTS)


def _links(table, pid, keep, id_type, identifiers: dict[str, str], cols) -> pa.Table:
    """One link row per (person id, other identifier) pair where the other identifier is present."""
    parts = []
    reals = [(t, cols[c.lower()]) for t, c in identifiers.items() if c.lower() in cols]
    if reals and keep is not None:
        table, pid = table.filter(keep), pid.filter(keep)
    for other_type, real in reals:
        parts.append(pa.table({
            "id_type_a": _repeat(id_type, table.num_rows), "id_value_a": pid.combine_chunks(),
            "id_type_b": _repeat(other_type, table.num_rows),
            "id_value_b": _as_string(table[real]).combine_chunks()}))
    if not parts:
        return STAGED_LINKS.empty_table()
    links = pa.concat_tables(parts)
    blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(links["id_value_b"]), ""), True)
    return links.filter(pc.invert(blank))


def default_link_columns(columns: list[str]) -> dict[str, str]:
    """Identifier columns present in a file that can stitch identities (email, phone, mrn, ssn)."""
    return {_LINK_TYPES[c.lower()]: c for c in columns if c.lower() in _LINK_TYPES}


def person_columns() -> set[str]:
    return set(_PERSON_COLUMNS)
