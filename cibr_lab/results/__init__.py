"""Results: atomic experiment records, statistics and the claims registry."""

from cibr_lab.results.claims import (
    Claim,
    claims_table,
    evaluate_claim,
    evaluate_claims,
    load_claims,
)
from cibr_lab.results.records import (
    atomic_write_text,
    cached_run,
    load_records,
    read_record,
    record_path,
    write_record,
)
from cibr_lab.results.stats import mean_ci, summarise

__all__ = [
    "Claim",
    "atomic_write_text",
    "cached_run",
    "claims_table",
    "evaluate_claim",
    "evaluate_claims",
    "load_claims",
    "load_records",
    "mean_ci",
    "read_record",
    "record_path",
    "summarise",
    "write_record",
]
