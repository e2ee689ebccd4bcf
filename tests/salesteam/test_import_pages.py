import csv
import io

import pytest
from django.urls import reverse

from salesteam.models import Deal, ImportJob, MappingPreset
from tests.factories import CustomerFactory
from tests.salesteam.import_support import upload

pytestmark = pytest.mark.django_db

FILE = (
    "Opportunity ID,Owner,Account,Deal Stage,Amount,Created Date,Close Date\n"
    "O-1,rep,C1,Closed Won,100,2024-01-10,2024-02-01\n"
    "O-2,rep,C1,Pitching,50,2024-01-10,\n"
    "O-3,ghost,C1,Closed Won,10,2024-01-10,2024-02-01\n"
)


def mapping_post(job: ImportJob, **extra) -> dict:
    data = {"action": "check"}
    for index, header in enumerate(job.headers):
        data[f"col_{index}"] = job.columns[header]
    for index, value in enumerate(job.stages):
        data[f"stage_{index}"] = job.stages[value]
    data.update(extra)
    return data


def test_upload_preview_commit_and_result_with_error_report(client, manager, rep):
    CustomerFactory(external_id="C1")
    client.force_login(manager)
    assert client.get(reverse("import_new")).status_code == 200
    response = client.post(reverse("import_new"), {"file": upload(FILE), "source": "crm"})
    job = ImportJob.objects.get()
    assert response.url == reverse("import_detail", args=[job.pk])

    page = client.get(response.url).content.decode()
    assert "Opportunity ID" in page and "Pitching" in page
    assert job.stages == {"Closed Won": "won", "Pitching": ""}
    assert 'name="create_missing"' not in page  # admins only

    stage_index = list(job.stages).index("Pitching")
    post = mapping_post(job, **{f"stage_{stage_index}": "proposal", "preset_name": "Our CRM"})
    client.post(response.url, post)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEWED
    assert (job.created_count, job.error_count) == (2, 1)
    assert not Deal.objects.exists()
    assert MappingPreset.objects.get(name="Our CRM").stages["Pitching"] == "proposal"
    page = client.get(response.url).content.decode()
    assert "ghost" in page and "Download error report (CSV)" in page

    client.post(response.url, {"action": "commit"})
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert Deal.objects.count() == 2
    assert job.created_by == manager

    report = client.get(reverse("import_errors_csv", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode())))
    assert rows[0] == ["line", "column", "value", "reason"]
    assert rows[1][:3] == ["4", "Owner", "ghost"]

    progress = client.get(reverse("import_progress", args=[job.pk])).json()
    assert progress == {"percent": 100, "label": "3 of 3 rows", "finished": True}


def test_an_empty_or_unreadable_upload_shows_one_clear_message(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("import_new"), {"file": upload(""), "source": "crm"})
    assert "The submitted file is empty." in response.content.decode()
    assert not ImportJob.objects.exists()
    content = "external_id,rep,customer_id\n"
    response = client.post(reverse("import_new"), {"file": upload(content), "source": "crm"}, follow=True)
    assert "The file has a header row but no data rows." in response.content.decode()
    assert ImportJob.objects.get().status == ImportJob.Status.FAILED


def test_a_missing_required_column_is_named_and_nothing_is_imported(client, admin_user):
    client.force_login(admin_user)
    client.post(reverse("import_new"), {"file": upload("Owner,Amount\nrep,10\n"), "source": "crm"})
    job = ImportJob.objects.get()
    response = client.post(reverse("import_detail", args=[job.pk]), mapping_post(job), follow=True)
    page = response.content.decode()
    assert "Required columns are missing or not mapped" in page and "External id" in page
    assert not Deal.objects.exists()


def test_the_error_table_is_paginated_with_bounded_queries(client, admin_user, django_assert_max_num_queries):
    lines = ["external_id,rep,customer_id,stage,amount,created_on"]
    lines += [f"D{number},nobody,C1,lead,1,2024-01-01" for number in range(60)]
    client.force_login(admin_user)
    client.post(reverse("import_new"), {"file": upload("\n".join(lines)), "source": "crm"})
    job = ImportJob.objects.get()
    client.post(reverse("import_detail", args=[job.pk]), mapping_post(job))
    with django_assert_max_num_queries(10):
        response = client.get(reverse("import_detail", args=[job.pk]), {"page": 2})
    assert "Page 2 of" in response.content.decode()
