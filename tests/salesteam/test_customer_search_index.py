"""The customer search (deal form suggestions, /api/v1/customers/?search=) is served by trigram indexes
on PostgreSQL: Django's icontains must match the indexed expression, or the index is never used."""

import pytest
from django.db import connection
from django.db.models import Q

from salesteam.models import Customer

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes are PostgreSQL's"),
]


def test_the_search_by_name_or_customer_id_reads_the_trigram_indexes():
    search = Customer.objects.filter(Q(name__icontains="garage") | Q(external_id__icontains="garage"))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a test table is small enough to scan
    plan = search.explain()
    assert "customer_name_trgm" in plan and "customer_external_id_trgm" in plan
