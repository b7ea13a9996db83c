"""AUBC and labelling efficiency on closed forms."""

import numpy as np
import pytest

from cibr_lab.al import aubc, labeling_efficiency


def test_aubc_constant_and_linear():
    assert aubc([100, 200, 400], [0.7, 0.7, 0.7]) == pytest.approx(0.7)
    # linear curve: area / range is the mean of the end points
    n = np.array([10, 20, 50, 90])
    assert aubc(n, 0.1 + 0.005 * n) == pytest.approx(0.1 + 0.005 * 50)


def test_aubc_piecewise():
    # area = 100 * (0.5 + 0.7) / 2 + 300 * (0.7 + 0.9) / 2 = 60 + 240; range 400
    assert aubc([100, 200, 500], [0.5, 0.7, 0.9]) == pytest.approx(300 / 400)


def test_aubc_bad_input():
    with pytest.raises(ValueError, match="strictly increasing"):
        aubc([1, 1], [0.5, 0.6])
    with pytest.raises(ValueError, match="equal length"):
        aubc([1, 2], [0.5])
    with pytest.raises(ValueError, match="at least 2"):
        aubc([1], [0.5])
    with pytest.raises(ValueError, match="finite"):
        aubc([1, 2], [0.5, np.nan])


def test_labeling_efficiency_closed_form():
    ref_n = [100, 200, 300, 400]
    ref_acc = [0.5, 0.6, 0.7, 0.8]
    # strategy reaches 0.65 at 200 labels; random needs 250 -> efficiency 1.25
    eff = labeling_efficiency([100, 200, 300], [0.5, 0.65, 0.9], ref_n, ref_acc)
    np.testing.assert_allclose(eff[:2], [1.0, 1.25])
    assert np.isnan(eff[2])
