"""The README's in-process example works as written, in a user's pytest run."""

from __future__ import annotations

import pytest

from readme import chapter, code_blocks


def test_async_in_process_example_works_as_written(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(code_blocks(chapter("In Python tests"), "python")[1])
    # As in a user's suite with filterwarnings = error.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)
