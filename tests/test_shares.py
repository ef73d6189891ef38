"""A share and its limit are printed so the comparison shows (no '0.0% above the 0.0% limit')."""

from pipelines.core.shares import percent, share_against_limit


def test_the_share_and_the_limit_never_read_alike_when_they_differ():
    assert share_against_limit(2 / 1005, 0.0001, "MAX_REJECT_SHARE") == (
        "0.199% is above MAX_REJECT_SHARE=0.0001 (0.01%)"
    )
    assert share_against_limit(0.050001, 0.05, "MAX_REJECT_SHARE") == (
        "5.0001% is above MAX_REJECT_SHARE=0.05 (5%)"
    )
    assert share_against_limit(0.05, 0.05, "MAX_REMOVED_SHARE") == (
        "5% is within MAX_REMOVED_SHARE=0.05 (5%)"
    )
    assert percent(0.00012, 0.0001) == "0.012%" and percent(0.0001, 0.00012) == "0.01%"
    assert percent(1 / 3) == "33.3%"
