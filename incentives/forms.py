"""Forms of the recognition pages; rules live in incentives.services."""

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from incentives.models import KUDOS_MAX_LENGTH, KudosReaction
from salesteam.forms import LongSelect, PlainChoices
from salesteam.models import User
from salesteam.selectors import display_names


class KudosForm(forms.Form):
    recipient = forms.TypedChoiceField(
        label=_("To"), coerce=int, required=False, empty_value=None, widget=LongSelect
    )
    team = forms.TypedChoiceField(
        label=_("Or a shout-out to the team"), coerce=int, required=False, empty_value=None
    )
    message = forms.CharField(
        label=_("Message"),
        max_length=KUDOS_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": KUDOS_MAX_LENGTH}),
    )
    deal = forms.IntegerField(label=_("Deal number (optional)"), required=False, min_value=1)
    goal = forms.IntegerField(label=_("Goal number (optional)"), required=False, min_value=1)

    def __init__(self, *args, recipients: QuerySet[User] | None = None, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        # Interpolated here, in the request's language, not once at import.
        self.fields["message"].help_text = gettext("Plain text, up to %(max)s characters.") % {
            "max": KUDOS_MAX_LENGTH
        }
        names = display_names(recipients) if recipients is not None else {}
        self.fields["recipient"].choices = PlainChoices([("", "—"), *names.items()])
        if teams:
            self.fields["team"].choices = [("", "—"), *((t.pk, t.name) for t in teams)]
        else:
            del self.fields["team"]


class ReactionForm(forms.Form):
    emoji = forms.ChoiceField(choices=KudosReaction.Emoji.choices)


class PreferenceForm(forms.Form):
    email = forms.BooleanField(label=_("Also e-mail me about badges, kudos and top 3 places"), required=False)
