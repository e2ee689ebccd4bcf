import pytest
from django.core.management import call_command

from salesteam.importing import services as importing
from salesteam.importing.mapping import guess_deal_columns, guess_stage
from salesteam.models import Deal, MappingPreset, Stage
from tests.factories import CustomerFactory
from tests.salesteam.import_support import run_import

pytestmark = pytest.mark.django_db


def test_columns_are_guessed_from_common_crm_export_names():
    headers = [
        "Opportunity ID", "Deal Name", "Owner", "Account ID", "Account Name", "Deal Stage", "Amount",
        "Close Date", "Created Date", "Product", "Lead Source", "Notes",
    ]  # fmt: skip
    assert guess_deal_columns(headers) == {
        "Opportunity ID": "external_id",
        "Deal Name": "title",
        "Owner": "rep",
        "Account ID": "customer_id",
        "Account Name": "customer_name",
        "Deal Stage": "stage",
        "Amount": "amount",
        "Close Date": "closed_on",
        "Created Date": "created_on",
        "Product": "category",
        "Lead Source": "touch_point",
        "Notes": "",
    }


def test_the_maven_crm_headers_are_guessed():
    headers = [
        "opportunity_id", "sales_agent", "product", "account", "deal_stage", "engage_date", "close_date",
        "close_value",
    ]  # fmt: skip
    assert guess_deal_columns(headers) == {
        "opportunity_id": "external_id",
        "sales_agent": "rep",
        "product": "category",
        "account": "customer_id",
        "deal_stage": "stage",
        "engage_date": "created_on",
        "close_date": "closed_on",
        "close_value": "amount",
    }


@pytest.mark.parametrize(
    ("value", "stage"),
    [("Closed Won", Stage.WON), ("Won", Stage.WON), ("closed-lost", Stage.LOST), ("Lost", Stage.LOST),
     ("Prospecting", Stage.LEAD), ("Engaging", Stage.QUALIFIED), ("Negotiation/Review", Stage.NEGOTIATION),
     ("Proposal/Price Quote", Stage.PROPOSAL), ("Something else", "")],
)  # fmt: skip
def test_stage_values_are_guessed(value, stage):
    assert guess_stage(value) == stage


CRM_FILE = (
    "Ref,Salesperson,Client,Phase,Value,Opened,Closed\n"
    "A-1,rep,C1,Signed,100,2024-01-01,2024-01-20\n"
    "A-2,rep,C1,Dead,50,2024-01-01,2024-01-21\n"
    "A-3,rep,C1,Talking,70,2024-01-01,\n"
)
COLUMNS = {
    "Ref": "external_id",
    "Salesperson": "rep",
    "Client": "customer_id",
    "Phase": "stage",
    "Value": "amount",
    "Opened": "created_on",
    "Closed": "closed_on",
}
STAGES = {"Signed": "won", "Dead": "lost", "Talking": "qualified"}


def test_a_corrected_mapping_imports_the_file_and_an_unmapped_stage_is_an_error(rep):
    CustomerFactory(external_id="C1")
    job = run_import(CRM_FILE, columns=COLUMNS, stages={"Signed": "won", "Dead": "lost"})
    assert (job.created_count, job.error_count) == (2, 1)
    error = job.row_errors.get()
    assert (error.line, error.column) == (4, "Phase") and "Talking" in error.message
    assert set(Deal.objects.values_list("stage", flat=True)) == {"won", "lost"}


def test_a_saved_preset_maps_the_next_file_through_the_command(rep, tmp_path, capsys):
    CustomerFactory(external_id="C1")
    importing.preset_save(actor=None, name="Legacy CRM", columns=COLUMNS, stages=STAGES)
    assert MappingPreset.objects.get().columns["Phase"] == "stage"
    path = tmp_path / "export.csv"
    path.write_text(CRM_FILE)

    call_command("import_deals", str(path), "--mapping", "Legacy CRM", "--source", "legacy")

    assert "3 new" in capsys.readouterr().out
    assert dict(Deal.objects.values_list("external_id", "stage")) == {
        "A-1": "won",
        "A-2": "lost",
        "A-3": "qualified",
    }


def test_saving_a_preset_twice_under_one_name_replaces_it():
    importing.preset_save(actor=None, name="P", columns={"a": "rep"}, stages={})
    importing.preset_save(actor=None, name="P", columns={"b": "rep"}, stages={"x": "won"})
    preset = MappingPreset.objects.get()
    assert preset.columns == {"b": "rep"} and preset.stages == {"x": "won"}
