"""LongSelect writes the same markup as Django's Select, only without a template per option."""

import pytest
from django import forms

from salesteam.forms import LongSelect

CHOICES = [
    ("", "—"),
    (1, "Anna <Admin> & Co"),
    (2, 'Ben "the closer"'),
    ("North", [(3, "Chloé"), (4, "Dirk")]),
    (5, "Eva"),
]


@pytest.mark.parametrize("value", [None, "", 2, "4", [5]])
@pytest.mark.parametrize(
    "attrs",
    [None, {"id": "id_who", "required": True, "disabled": False, "aria-describedby": "who-help"}],
)
def test_it_renders_exactly_what_djangos_select_renders(value, attrs):
    expected = forms.Select(choices=CHOICES).render("who", value, attrs=attrs)
    assert LongSelect(choices=CHOICES).render("who", value, attrs=attrs) == expected


def test_a_form_field_with_it_renders_escaped_and_selected():
    class Form(forms.Form):
        who = forms.TypedChoiceField(choices=CHOICES, coerce=int, required=False, widget=LongSelect)

    html = str(Form({"who": "1"})["who"])
    assert '<option value="1" selected>Anna &lt;Admin&gt; &amp; Co</option>' in html
    assert '<optgroup label="North">' in html
    assert html.startswith('<select name="who" id="id_who">')
