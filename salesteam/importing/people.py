"""The people import: username, e-mail, full name, role, team and manager per row, through
`services.user_upsert`, so running the same file twice changes nothing.

People files are small (one row per person), so the rows are held in memory to put every manager
before the people who report to them, wherever they appear in the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from salesteam import services
from salesteam.importing.deals import Counts, RowError
from salesteam.importing.values import parse_date, text
from salesteam.models import Role, Team, User

ROLE_ALIASES = {
    "rep": Role.REP, "sales rep": Role.REP, "sales agent": Role.REP, "agent": Role.REP, "seller": Role.REP,
    "manager": Role.MANAGER, "sales manager": Role.MANAGER, "team lead": Role.MANAGER,
    "admin": Role.ADMIN, "administrator": Role.ADMIN,
}  # fmt: skip


@dataclass
class _Person:
    line: int
    raw: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    failed: bool = False


class PeopleImport:
    def __init__(self, *, columns: dict[str, str], headers: list[str], dayfirst: bool, actor: User | None):
        self.header_of = {canonical: header for header, canonical in columns.items() if canonical}
        self.index = [
            (canonical, headers.index(header))
            for canonical, header in self.header_of.items()
            if header in headers
        ]
        self.dayfirst = dayfirst
        self.actor = actor
        self.errors: list[RowError] = []
        self.counts = Counts()

    def _error(self, person: _Person, column: str, message: str) -> None:
        self.errors.append(
            RowError(
                person.line,
                self.header_of.get(column, column),
                text(person.raw.get(column))[:255],
                str(message)[:500],
            )
        )
        person.failed = True

    def _parse(self, line: int, cells: list) -> _Person:
        size = len(cells)
        person = _Person(line, {name: (cells[index] if index < size else "") for name, index in self.index})
        raw = person.raw
        username = text(raw.get("username"))
        try:
            if not username:
                raise ValidationError(_("Enter a username."))
            if len(username) > 150:
                raise ValidationError(_("The username is longer than 150 characters."))
            UnicodeUsernameValidator()(username)
        except ValidationError as error:
            self._error(person, "username", " ".join(error.messages))
        email = text(raw.get("email"))
        if email:
            try:
                validate_email(email)
            except ValidationError as error:
                self._error(person, "email", " ".join(error.messages))
        role_raw = text(raw.get("role"))
        role = ROLE_ALIASES.get(role_raw.lower(), "") if role_raw else Role.REP
        if not role:
            self._error(
                person,
                "role",
                _("Unknown role “%(value)s”: use rep, manager or admin.") % {"value": role_raw},
            )
        team = text(raw.get("team"))
        if len(team) > 100:
            self._error(person, "team", _("Longer than %(limit)s characters.") % {"limit": 100})
        try:
            team_from = parse_date(raw.get("team_from"), dayfirst=self.dayfirst)
        except ValueError as exc:
            self._error(person, "team_from", str(exc))
            team_from = None
        person.values = {
            "username": username,
            "email": email,
            "full_name": text(raw.get("full_name"))[:150],
            "role": role,
            "team": team,
            "manager": text(raw.get("manager")),
            "team_from": team_from,
        }
        return person

    def run(self, rows: Iterable[tuple[int, list]], *, commit: bool) -> None:
        """Creates or updates every valid person; a dry run does the same and rolls it all back."""
        people = [self._parse(line, cells) for line, cells in rows]
        self.counts.processed = len(people)
        in_file: dict[str, _Person] = {}
        for person in people:
            key = person.values["username"].lower()
            if key and key in in_file:
                self._error(person, "username", _("This username appears more than once in the file."))
            elif key:
                in_file[key] = person
        known: dict[str, int] = {}
        usernames: set[str] = set()
        for pk, username, email, full_name in User.objects.values_list(
            "pk", "username", "email", "full_name"
        ):
            known[username.lower()] = pk
            usernames.add(username.lower())
            for other in (email, full_name):
                if other:
                    known.setdefault(other.lower(), pk)

        def manager_of(person: _Person) -> _Person | None:
            key = person.values["manager"].lower()
            return in_file.get(key) if key else None

        def depth(person: _Person, trail: tuple = ()) -> int:
            boss = manager_of(person)
            if boss is None or boss is person:
                return 0
            if boss in trail:
                return 0  # a loop: reported below as an error
            return 1 + depth(boss, (*trail, person))

        for person in people:
            key = person.values["manager"]
            if key and manager_of(person) is None and key.lower() not in known:
                message = _("Unknown manager “%(value)s”: add them first or in the same file.") % {
                    "value": key
                }
                self._error(person, "manager", message)
            elif manager_of(person) is person:
                self._error(person, "manager", _("Nobody can be their own manager."))
        ordered = sorted(people, key=lambda person: (depth(person), person.line))
        with transaction.atomic():
            teams = {team.name.lower(): team for team in Team.objects.all()}
            created: dict[str, User] = {}
            for person in ordered:
                if person.failed:
                    continue
                boss = manager_of(person)
                if boss is not None and boss.failed:
                    self._error(person, "manager", _("The manager’s own row has errors."))
                    continue
                values = person.values
                manager = None
                if values["manager"]:
                    manager = created.get(values["manager"].lower()) or User.objects.get(
                        pk=known[values["manager"].lower()]
                    )
                team = None
                if values["team"]:
                    team = teams.get(values["team"].lower())
                    if team is None:
                        team = Team(name=values["team"])
                        team._history_user = self.actor
                        team.save()
                        teams[team.name.lower()] = team
                existed = values["username"].lower() in usernames
                user, changed = services.user_upsert(
                    actor=self.actor,
                    username=values["username"],
                    email=values["email"],
                    full_name=values["full_name"],
                    role=values["role"],
                    team=team,
                    manager=manager,
                    team_from=values["team_from"],
                )
                created[values["username"].lower()] = user
                if values["full_name"]:
                    created[values["full_name"].lower()] = user
                if not existed:
                    self.counts.created += 1
                elif changed:
                    self.counts.updated += 1
                else:
                    self.counts.unchanged += 1
            if not commit:
                transaction.set_rollback(True)
        self.counts.errors = sum(1 for person in people if person.failed)
        self.errors.sort(key=lambda error: error.line)
