"""Managers approve or reject their teams' awards; nobody their own; exactly one concurrent approval wins."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from incentives import bonus_services
from incentives.models import AwardDecision, BonusAward
from salesteam.models import Membership, Role
from tests.factories import UserFactory
from tests.incentives.bonus_helpers import make_plan
from tests.incentives.conftest import deal

D = datetime.date
MARCH = D(2024, 3, 1)


@pytest.fixture
def march_award(db, clock, nightly, team, rep):
    make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team])
    deal(rep, "1000.00")
    clock(D(2024, 4, 2))
    nightly()
    return BonusAward.objects.get(rep=rep, period_start=MARCH)


def test_the_manager_of_the_reps_team_approves_and_the_decision_is_kept(march_award, manager):
    award = bonus_services.award_approve(actor=manager, award=march_award)

    assert (award.status, award.decided_by) == (BonusAward.Status.APPROVED, manager)
    last = AwardDecision.objects.filter(award=award).last()
    assert (last.actor, last.from_status, last.to_status) == (manager, "pending", "approved")


def test_it_refuses_a_manager_of_another_team(march_award, other_manager):
    with pytest.raises(ValidationError, match="Only a manager of the rep's team"):
        bonus_services.award_approve(actor=other_manager, award=march_award)


def test_nobody_approves_their_own_award(db, clock, team, manager, admin_user):
    Membership.objects.create(user=manager, team=team, valid_from=D(2020, 1, 1))
    make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team])
    deal(manager, "1000.00")
    clock(D(2024, 4, 2))
    bonus_services.award_evaluate(period_start=MARCH)
    own = BonusAward.objects.get(rep=manager)

    with pytest.raises(ValidationError, match="their own award"):
        bonus_services.award_approve(actor=manager, award=own)
    assert bonus_services.award_approve(actor=admin_user, award=own).status == BonusAward.Status.APPROVED


def test_a_rep_cannot_approve(march_award, team):
    colleague = UserFactory(username="colleague", role=Role.REP)
    Membership.objects.create(user=colleague, team=team, valid_from=D(2020, 1, 1))
    with pytest.raises(ValidationError):
        bonus_services.award_approve(actor=colleague, award=march_award)


def test_rejecting_needs_a_reason(march_award, manager):
    with pytest.raises(ValidationError, match="Give a reason"):
        bonus_services.award_reject(actor=manager, award=march_award, reason="  ")
    award = bonus_services.award_reject(actor=manager, award=march_award, reason="Duplicate deal")
    assert (award.status, award.reason) == (BonusAward.Status.REJECTED, "Duplicate deal")


def test_an_estimate_of_a_running_period_cannot_be_approved(db, clock, team, rep, manager):
    make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team])
    deal(rep, "1000.00")  # today is 20 March
    bonus_services.award_evaluate(period_start=MARCH)
    with pytest.raises(ValidationError, match="not ended yet"):
        bonus_services.award_approve(actor=manager, award=BonusAward.objects.get(rep=rep))


def test_a_second_approval_gets_a_clear_message_and_changes_nothing(march_award, manager, admin_user):
    bonus_services.award_approve(actor=manager, award=march_award)
    with pytest.raises(ValidationError, match="already decided"):
        bonus_services.award_approve(actor=admin_user, award=march_award)
    march_award.refresh_from_db()
    assert march_award.decided_by == manager
    assert AwardDecision.objects.filter(award=march_award, to_status="approved").count() == 1


def test_bulk_approval_approves_each_and_reports_the_rest(db, clock, nightly, team, rep, manager):
    other = UserFactory(username="second")
    Membership.objects.create(user=other, team=team, valid_from=D(2020, 1, 1))
    make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team])
    deal(rep, "1000.00")
    deal(other, "2000.00")
    clock(D(2024, 4, 2))
    nightly()
    awards = list(BonusAward.objects.filter(period_start=MARCH).order_by("rep__username"))
    assert [a.rep for a in awards] == [rep, other]
    bonus_services.award_reject(actor=manager, award=awards[0], reason="Check")

    approved, problems = bonus_services.award_approve_many(actor=manager, awards=awards)

    assert [a.total for a in approved] == [Decimal("200.00")]
    assert len(problems) == 1 and "already decided" in problems[0]


@pytest.mark.django_db(transaction=True)
def test_exactly_one_of_two_concurrent_approvals_wins(clock, team, rep, manager, admin_user):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers to the whole file; row locks need PostgreSQL")
    make_plan(rules=[{"type": "commission", "rate": "0.10"}], teams=[team])
    deal(rep, "1000.00")
    clock(D(2024, 4, 2))
    bonus_services.award_evaluate(period_start=MARCH)
    award = BonusAward.objects.get(rep=rep)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def approve(actor):
        try:
            barrier.wait(timeout=10)
            bonus_services.award_approve(actor=actor, award=BonusAward.objects.get(pk=award.pk))
            outcomes[actor.username] = "approved"
        except ValidationError as error:
            outcomes[actor.username] = " ".join(error.messages)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(user,)) for user in (manager, admin_user)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes.values(), key=lambda v: v != "approved")[0] == "approved"
    assert list(outcomes.values()).count("approved") == 1
    assert any("already decided" in v for v in outcomes.values())
    assert AwardDecision.objects.filter(award_id=award.pk, to_status="approved").count() == 1
