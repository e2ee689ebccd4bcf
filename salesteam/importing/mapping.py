"""Canonical import columns, and guesses of the column and stage mapping from a file's own names."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.utils.translation import gettext_lazy as _

from salesteam.models import Stage

# Canonical deal columns, in the order the mapping form shows them.
DEAL_COLUMNS: dict[str, str] = {
    "external_id": _("External id"),
    "title": _("Title"),
    "rep": _("Rep (username, e-mail or name)"),
    "team": _("Team"),
    "customer_id": _("Customer id"),
    "customer_name": _("Customer name"),
    "segment": _("Segment"),
    "category": _("Category"),
    "campaign": _("Campaign (code)"),
    "touch_point": _("Touch point"),
    "stage": _("Stage"),
    "amount": _("Amount"),
    "cost": _("Cost"),
    "currency": _("Currency"),
    "created_on": _("Created on"),
    "closed_on": _("Closed on"),
    "lost_reason": _("Lost reason"),
    "credits": _("Credit split (rep:share; …)"),
}
DEAL_REQUIRED = ("external_id", "rep", "customer_id", "stage", "amount", "created_on")

PEOPLE_COLUMNS: dict[str, str] = {
    "username": _("Username"),
    "email": _("E-mail"),
    "full_name": _("Full name"),
    "role": _("Role"),
    "team": _("Team"),
    "manager": _("Manager (username)"),
    "team_from": _("In the team from"),
}
PEOPLE_REQUIRED = ("username",)

# Header names seen in CRM exports (Salesforce, HubSpot, Pipedrive, Zoho, Dynamics, Maven's sample data),
# normalised by `normalise`.
DEAL_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "external_id": (
        "external id", "id", "deal id", "opportunity id", "opportunity", "opp id", "record id",
        "deal number", "reference", "ref",
    ),
    "title": ("title", "deal name", "opportunity name", "name", "deal", "subject", "deal title"),
    "rep": (
        "rep", "owner", "deal owner", "opportunity owner", "sales agent", "sales rep", "salesperson",
        "sales person", "account executive", "user", "assigned to", "owner email", "rep email", "agent",
    ),
    "team": ("team", "sales team", "region", "regional office", "office", "territory"),
    "customer_id": (
        "customer id", "customer", "account", "account id", "account name", "company", "company id",
        "organization", "organisation", "client", "client id", "org id",
    ),
    "customer_name": ("customer name", "company name", "client name", "organization name"),
    "segment": ("segment", "sector", "industry", "customer segment", "market segment"),
    "category": ("category", "product", "product category", "product line", "product name", "series"),
    "campaign": (
        "campaign", "campaign code", "primary campaign source", "campaign source", "utm campaign",
        "lead source campaign",
    ),
    "touch_point": ("touch point", "touchpoint", "lead source", "source", "channel", "origin"),
    "stage": ("stage", "deal stage", "opportunity stage", "status", "pipeline stage", "sales stage"),
    "amount": (
        "amount", "value", "deal value", "close value", "deal amount", "opportunity amount", "revenue",
        "total", "price", "expected revenue",
    ),
    "cost": ("cost", "costs", "cost of sale", "cogs", "deal cost"),
    "currency": ("currency", "currency code", "amount currency", "opportunity currency"),
    "created_on": (
        "created on", "created", "create date", "created date", "date created", "engage date",
        "open date", "opened", "start date", "created at",
    ),
    "closed_on": (
        "closed on", "close date", "closed date", "closed", "date closed", "won date", "close",
        "closed at", "expected close date",
    ),
    "lost_reason": ("lost reason", "loss reason", "reason lost", "closed lost reason", "reason"),
    "credits": ("credit split", "split", "splits", "sales credit", "commission split", "credit splits"),
}  # fmt: skip

PEOPLE_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "username": ("username", "user name", "login", "user"),
    "email": ("email", "e mail", "email address", "mail"),
    "full_name": ("full name", "name", "display name", "sales agent"),
    "role": ("role", "type", "function"),
    "team": ("team", "sales team", "regional office", "office", "region"),
    "manager": ("manager", "reports to", "manager username"),
    "team_from": ("team from", "from", "since", "valid from", "start date"),
}

STAGE_ALIASES: dict[str, str] = {
    "lead": Stage.LEAD, "new": Stage.LEAD, "prospecting": Stage.LEAD, "prospect": Stage.LEAD,
    "open": Stage.LEAD, "appointment scheduled": Stage.LEAD, "contacted": Stage.LEAD,
    "qualified": Stage.QUALIFIED, "qualification": Stage.QUALIFIED, "engaging": Stage.QUALIFIED,
    "qualified to buy": Stage.QUALIFIED, "needs analysis": Stage.QUALIFIED, "discovery": Stage.QUALIFIED,
    "value proposition": Stage.QUALIFIED, "demo": Stage.QUALIFIED, "presentation scheduled": Stage.QUALIFIED,
    "proposal": Stage.PROPOSAL, "proposal sent": Stage.PROPOSAL, "proposal price quote": Stage.PROPOSAL,
    "quote": Stage.PROPOSAL, "quoted": Stage.PROPOSAL, "id decision makers": Stage.PROPOSAL,
    "perception analysis": Stage.PROPOSAL, "decision maker bought in": Stage.PROPOSAL,
    "negotiation": Stage.NEGOTIATION, "negotiation review": Stage.NEGOTIATION,
    "contract sent": Stage.NEGOTIATION, "negotiating": Stage.NEGOTIATION, "commit": Stage.NEGOTIATION,
    "won": Stage.WON, "closed won": Stage.WON, "closedwon": Stage.WON, "win": Stage.WON,
    "won deal": Stage.WON,
    "lost": Stage.LOST, "closed lost": Stage.LOST, "closedlost": Stage.LOST, "loss": Stage.LOST,
    "lost deal": Stage.LOST, "closed lost to competition": Stage.LOST,
}  # fmt: skip

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalise(name: str) -> str:
    """'Close_Date ' and 'close date' compare equal; so do 'Closed-Won' and 'closed won'."""
    return _NON_ALNUM.sub(" ", str(name).lower()).strip()


def guess_columns(headers: Iterable[str], *, aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Maps each header to a canonical column ('' to ignore it); each canonical column at most once.

    Exact canonical names win over aliases, and earlier aliases over later ones, so that a file with
    both "Account" and "Account Name" maps the id to the first and not the name.
    """
    headers = list(headers)
    normalised = {header: normalise(header) for header in headers}
    mapping = dict.fromkeys(headers, "")
    used: set[str] = set()
    candidates: list[tuple[int, int, str, str]] = []
    for header in headers:
        for canonical, names in aliases.items():
            key = normalised[header]
            if key == normalise(canonical):
                candidates.append((0, 0, header, canonical))
            elif key in names:
                candidates.append((1, names.index(key), header, canonical))
    for _rank, _position, header, canonical in sorted(candidates, key=lambda item: (item[0], item[1])):
        if mapping[header] or canonical in used:
            continue
        mapping[header] = canonical
        used.add(canonical)
    return mapping


def guess_deal_columns(headers: Iterable[str]) -> dict[str, str]:
    mapping = guess_columns(headers, aliases=DEAL_HEADER_ALIASES)
    chosen = {canonical: header for header, canonical in mapping.items() if canonical}
    # "Account ID" + "Account Name": the id is the customer id and the name its name.
    if "customer_id" in chosen and "customer_name" not in chosen:
        for header, canonical in mapping.items():
            if not canonical and normalise(header) in ("account name", "customer name", "company name"):
                mapping[header] = "customer_name"
                break
    return mapping


def guess_people_columns(headers: Iterable[str]) -> dict[str, str]:
    return guess_columns(headers, aliases=PEOPLE_HEADER_ALIASES)


def guess_stage(value: str) -> str:
    """The stage a file's stage value stands for, or '' when it cannot be told."""
    key = normalise(value)
    if key in Stage.values:
        return key
    return STAGE_ALIASES.get(key, "")


def guess_stages(values: Iterable[str]) -> dict[str, str]:
    return {value: guess_stage(value) for value in values}


def missing_required(columns: dict[str, str], *, required: Iterable[str]) -> list[str]:
    mapped = set(columns.values())
    return [name for name in required if name not in mapped]
