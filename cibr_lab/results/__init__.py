"""Results: atomic experiment records, statistics and the claims registry."""

from cibr_lab.results.atomic import atomic_torch_save, atomic_write_text, torch_load_checked
from cibr_lab.results.claims import (
    VERDICTS,
    Claim,
    claim_values,
    claims_table,
    evaluate_claim,
    evaluate_claims,
    load_claims,
)
from cibr_lab.results.records import (
    cached_run,
    chapter_dir,
    find_record,
    load_records,
    read_record,
    record_path,
    reuse_policy,
    write_record,
)
from cibr_lab.results.stats import holm, mean_ci, min_detectable_effect, summarise, t_test
from cibr_lab.results.version import code_version, config_hash

__all__ = [
    "VERDICTS",
    "Claim",
    "atomic_torch_save",
    "atomic_write_text",
    "cached_run",
    "chapter_dir",
    "claim_values",
    "claims_table",
    "code_version",
    "config_hash",
    "evaluate_claim",
    "evaluate_claims",
    "find_record",
    "holm",
    "load_claims",
    "load_records",
    "mean_ci",
    "min_detectable_effect",
    "read_record",
    "record_path",
    "reuse_policy",
    "summarise",
    "t_test",
    "torch_load_checked",
    "write_record",
]
