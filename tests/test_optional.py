"""An optional dependency that is missing is a one-line error naming the extra."""

import pytest

from reawaken._optional import require
from reawaken.errors import ReawakenError


def test_missing_optional_module_names_the_extra():
    with pytest.raises(ReawakenError, match=r"pip install 'reawaken\[omop\]'"):
        require("reawaken_no_such_module", "omop")


def test_present_module_is_returned():
    assert require("json", "omop").dumps([1]) == "[1]"
