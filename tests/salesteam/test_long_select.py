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


@pytest.mark.parametrize("value", [None, [], ["2"], [2, "4"]])
def test_a_multiple_select_renders_what_djangos_renders(value):
    expected = forms.SelectMultiple(choices=CHOICES).render("who", value)
    widget = type("LongSelectMultiple", (LongSelect,), {"allow_multiple_selected": True})(choices=CHOICES)
    assert widget.render("who", value) == expected


def test_lazy_and_safe_labels_render_as_django_renders_them():
    from django.utils.safestring import mark_safe
    from django.utils.translation import gettext_lazy

    choices = [("", gettext_lazy("Rep")), (1, mark_safe("<b>Bold</b>")), (0, "Zero & one")]
    for value in (None, 0, "0", 1):
        expected = forms.Select(choices=choices).render("who", value)
        assert LongSelect(choices=choices).render("who", value) == expected


def test_plain_choices_validate_like_a_list():
    from salesteam.forms import PlainChoices

    class Form(forms.Form):
        who = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, widget=LongSelect)

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.fields["who"].choices = PlainChoices([("", "—"), (1, "Anna"), (2, "Ben")])

    valid = Form({"who": "2"})
    assert valid.is_valid() and valid.cleaned_data["who"] == 2
    invalid = Form({"who": "3"})
    assert not invalid.is_valid() and "who" in invalid.errors
    assert '<option value="1">Anna</option>' in str(Form()["who"])


@pytest.mark.parametrize("language", ["en", "nl"])
@pytest.mark.parametrize("value", [None, "", 1000, "None", [2024]])
def test_numbers_dates_and_none_render_as_django_renders_them(language, value):
    import datetime
    from decimal import Decimal

    from django.utils import translation

    choices = [
        (None, "nobody"),
        (1000, 1000),
        (2, Decimal("1234.5")),
        (3, datetime.date(2024, 3, 1)),
        (2024, [(None, "none in a group"), (5, 12345)]),
        ("", [(6, "unnamed group")]),
    ]
    with translation.override(language):
        expected = forms.Select(choices=choices).render("who", value)
        assert LongSelect(choices=choices).render("who", value) == expected
