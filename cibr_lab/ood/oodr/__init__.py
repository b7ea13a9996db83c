"""OOD-R: remove in-distribution images from OOD test sets by an annotator committee."""

from cibr_lab.ood.oodr.committee import (
    Committee,
    annotate,
    committee_filter,
    precision_recall,
    select_committee,
)
from cibr_lab.ood.oodr.report import (
    contact_sheet_fragment,
    contact_sheet_html,
    counts_per_dataset,
    votes_table,
)

__all__ = [
    "Committee",
    "annotate",
    "committee_filter",
    "contact_sheet_fragment",
    "contact_sheet_html",
    "counts_per_dataset",
    "precision_recall",
    "select_committee",
    "votes_table",
]
