import pytest

from core.masking import mask_id_number, mask_name, mask_phone
from core.validators import id_check_char, is_valid_id_number


@pytest.mark.parametrize(
    ("raw", "masked"),
    [("13812341234", "138****1234"), ("0713-2123456", "071*****3456"), ("", ""), ("12345", "*****")],
)
def test_mask_phone(raw, masked):
    assert mask_phone(raw) == masked


def test_mask_id_number_keeps_region_and_last_four():
    assert mask_id_number("42018119800101123X") == "4201**********123X"
    assert mask_id_number("") == ""


def test_mask_name():
    assert mask_name("张阿姨") == "张**"


def test_id_number_check_character():
    # The worked example of GB 11643-1999.
    assert id_check_char("11010519491231002") == "X"
    assert is_valid_id_number("11010519491231002X")
    assert is_valid_id_number("11010519491231002x")
    assert not is_valid_id_number("110105194912310021")
    assert not is_valid_id_number("1101051949123100")
