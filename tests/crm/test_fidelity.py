"""The emulators' bodies against real recorded ones, and the adapters' parsers fed real bodies.

Fixtures are in ``tests/fixtures/crm`` (see its README: recorded, issue-reported or docs
examples, with their licences). Shapes are compared structurally: the same keys at every
level and the same JSON kinds (a string stays a string, a list a list), not the same values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from sheets_sync.crm.amocrm import describe_error as amo_describe
from sheets_sync.crm.amocrm import validation_errors
from sheets_sync.crm.bitrix24 import batch_outcome
from sheets_sync.crm.hubspot import describe_error as hub_describe
from sheets_sync.crm.hubspot import failed_ids
from sheets_sync_emulators.crm import AmoCrmApp, Bitrix24App, HubSpotApp
from sheets_sync_emulators.crm.bitrix24.php import parse_query, php_array

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "crm"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def shape(value: Any) -> Any:
    """Keys and JSON kinds, recursively; a list is described by its first element."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return kind(value)


def same_keys(ours: Any, real: Any, path: str = "$") -> None:
    """Every key of the real body exists in ours with the same kind (ours may add keys only
    where the real one was trimmed, which callers say by using :func:`shape` directly)."""
    if isinstance(real, dict):
        assert isinstance(ours, dict), f"{path}: {kind(ours)} instead of an object"
        missing = set(real) - set(ours)
        assert not missing, f"{path}: missing {sorted(missing)}"
        for key in real:
            same_keys(ours[key], real[key], f"{path}.{key}")
    elif isinstance(real, list):
        assert isinstance(ours, list), f"{path}: {kind(ours)} instead of a list"
        if real and ours:
            same_keys(ours[0], real[0], f"{path}[0]")
    elif real is not None and ours is not None:
        assert kind(ours) == kind(real), f"{path}: {kind(ours)} instead of {kind(real)}"


def response(status: int, body: Any) -> requests.Response:
    out = requests.Response()
    out.status_code = status
    out._content = json.dumps(body).encode()
    out.headers["Content-Type"] = "application/json"
    return out


# -- amoCRM (issue-reported error bodies; no recorded success bodies exist) -------------------


def test_amocrm_parser_reads_recorded_validation_errors() -> None:
    body = load("amocrm/from_issues/error_400_validation_not_supported_choice_enum_value.json")
    assert validation_errors(body) == {0: "NotSupportedChoice: The value you selected is not a "
                                          "valid choice. (custom_fields_values.6.values.0.value)"}
    text = amo_describe(response(400, load("amocrm/from_issues/error_400_code_244.json")))
    assert "Код ошибки 244" in text


def test_amocrm_emulator_errors_have_the_recorded_shape(amo: AmoCrmApp) -> None:
    base = amo.base_url  # type: ignore[attr-defined]
    unauthorized = requests.get(f"{base}/api/v4/companies", timeout=5)
    assert unauthorized.status_code == 401
    assert unauthorized.json() == load("amocrm/from_issues/error_401_unauthorized.json")
    field = amo.state.add_field("Категория", "select", code="CAT", enums=["A"])
    company = amo.state.add_company("Acme")
    bad = requests.patch(f"{base}/api/v4/companies", timeout=5,
                         headers={"Authorization": f"Bearer {amo.state.token}"},
                         json=[{"id": company.id, "custom_fields_values": [
                             {"field_id": field.id, "values": [{"value": "Z"}]}]}])
    assert bad.status_code == 400
    assert bad.headers["Content-Type"].startswith("application/problem+json")
    real = load("amocrm/from_issues/error_400_validation_not_supported_choice_enum_value.json")
    assert shape(bad.json()) == shape(real)
    assert list(bad.json()) == list(real)  # same key order, as printed in the issue
    entry = bad.json()["validation-errors"][0]["errors"][0]
    assert (entry["code"], entry["path"]) == ("NotSupportedChoice",
                                              "custom_fields_values.0.values.0.value")


# -- Bitrix24 (recorded batches and pages; docs examples for companies and user fields) -------


def call_b24(app: Bitrix24App, method: str, params: dict[str, Any]) -> requests.Response:
    url = f"{app.base_url}/rest/{app.state.user_id}/{app.state.code}/{method}.json"  # type: ignore[attr-defined]
    return requests.post(url, json=params, timeout=5)


def test_bitrix24_parser_reads_recorded_batches() -> None:
    mixed = load("bitrix24/batch_mixed_errors.json")
    assert batch_outcome(["35943", "x", "y"], mixed) == {
        "35943": None, "x": "ID is not defined or invalid.", "y": "Not found"}
    both = load("bitrix24/batch_all_errors_two.json")
    assert batch_outcome(["a", "b"], both) == {"a": "ID is not defined or invalid.",
                                               "b": "Not found"}
    named = load("bitrix24/docs/batch_result_error_map_halt0.json")
    assert batch_outcome(["get_user", "get_department"], named) == {
        "get_user": "insufficient_scope", "get_department": "insufficient_scope"}
    as_list = load("bitrix24/batch_numeric_key_result_as_list.json")["response"]
    assert batch_outcome(["0"], as_list) == {"0": None}
    ok = load("bitrix24/batch_get_several_success.json")
    assert batch_outcome(["order0", "order1", "order2"], ok) == dict.fromkeys(
        ["order0", "order1", "order2"])


def test_php_arrays_as_recorded() -> None:
    single = load("bitrix24/batch_numeric_key_result_as_list.json")
    keys = list(single["request"]["cmd"])
    assert isinstance(php_array(dict.fromkeys(keys, 1)), list)  # key "0" -> a JSON list
    several = load("bitrix24/batch_numeric_keys_stage_list.json")
    keys = list(several["request"]["params"]["cmd"])
    assert isinstance(php_array(dict.fromkeys(keys, 1)), dict)  # "2","4","8","0" -> object
    assert php_array({}) == []
    assert parse_query("ID=2&") == {"ID": "2"}
    assert parse_query("fields[UF_CRM_X]=45&select[]=ID&select[]=TITLE") == {
        "fields": {"UF_CRM_X": "45"}, "select": ["ID", "TITLE"]}


def test_bitrix24_emulator_pages_and_errors_have_the_recorded_shape(b24: Bitrix24App) -> None:
    for i in range(60):
        b24.state.add_company(f"Company {i}")
    page = call_b24(b24, "crm.company.list", {"select": ["ID", "TITLE"]}).json()
    real = load("bitrix24/crm_lead_list_page1_with_next.json")
    assert list(page) == list(real)  # result, next, total, time
    assert shape(page["result"][0]) == shape(real["result"][0])  # {"ID": str, "TITLE": str}
    same_keys(page["time"], real["time"])
    last = call_b24(b24, "crm.company.list", {"select": ["ID", "TITLE"], "start": 50}).json()
    assert list(last) == list(load("bitrix24/crm_lead_list_one_page.json"))  # no "next"
    docs = load("bitrix24/docs/crm_company_list.json")
    same_keys(page["time"], docs["time"])  # operating, operating_reset_at as well
    missing = call_b24(b24, "crm.company.update", {"id": 1, "fields": {"TITLE": "x"}})
    assert missing.status_code == 400
    assert missing.json() == load("bitrix24/docs/crm_company_update_error_not_found.json")
    no_type = call_b24(b24, "crm.company.userfield.add", {"fields": {"FIELD_NAME": "X"}})
    assert no_type.json() == load("bitrix24/docs/crm_company_userfield_add_error_400.json")
    bad_filter = call_b24(b24, "crm.company.userfield.list", {"filter": "x"})
    assert bad_filter.json() == load("bitrix24/docs/crm_company_userfield_list_error_400.json")
    b24.bucket.configure(capacity=0)
    limited = call_b24(b24, "profile", {})
    assert limited.status_code == 503
    assert limited.json() == load("bitrix24/from_issues/error_503_query_limit_exceeded.json")


def test_bitrix24_emulator_user_fields_have_the_docs_shape(b24: Bitrix24App) -> None:
    added = call_b24(b24, "crm.company.userfield.add", {"fields": {
        "FIELD_NAME": "RADIO", "USER_TYPE_ID": "enumeration", "EDIT_FORM_LABEL": "Радио",
        "LIST": [{"VALUE": "one"}, {"VALUE": "two"}]}}).json()
    same_keys(added, load("bitrix24/docs/crm_company_userfield_add.json"))
    listed = call_b24(b24, "crm.company.userfield.list", {}).json()
    real = load("bitrix24/docs/crm_company_userfield_list_enumeration.json")
    enumeration = next(f for f in real["result"] if f["USER_TYPE_ID"] == "enumeration")
    ours = listed["result"][0]
    assert list(ours) == list(enumeration)
    assert shape(ours) == shape(enumeration)  # LIST items: ID, SORT, VALUE, DEF, XML_ID


def test_bitrix24_emulator_batches_have_the_recorded_shape(b24: Bitrix24App) -> None:
    company = b24.state.add_company("Acme")
    cmd = {"ok": f"crm.company.update?id={company.id}&fields[TITLE]=New",
           "bad": "crm.company.update?id=0&fields[TITLE]=x"}
    mixed = call_b24(b24, "batch", {"halt": 0, "cmd": cmd})
    assert mixed.status_code == 200  # batches are always 200
    body = mixed.json()
    named = load("bitrix24/docs/batch_result_error_map_halt0.json")
    assert list(body) == list(named) and list(body["result"]) == list(named["result"])
    assert body["result"]["result_error"] == {"bad": {"error": "", "error_description":
                                                      "ID is not defined or invalid."}}
    assert body["result"]["result_total"] == [] and body["result"]["result_next"] == []
    b24.result_error_as_list = True
    listed = call_b24(b24, "batch", {"halt": 0, "cmd": cmd}).json()
    recorded = load("bitrix24/batch_mixed_errors.json")
    assert shape(listed["result"]["result_error"]) == shape(recorded["result"]["result_error"])
    only = call_b24(b24, "batch", {"halt": 0, "cmd": {"0": "crm.company.list?select[]=ID"}})
    as_list = load("bitrix24/batch_numeric_key_result_as_list.json")["response"]
    assert kind(only.json()["result"]["result"]) == kind(as_list["result"]["result"]) == "list"
    assert kind(only.json()["result"]["result_time"]) == "list"
    same_keys(only.json()["result"]["result_time"][0], as_list["result"]["result_time"][0])
    empty = call_b24(b24, "batch", {"cmd": {"order0000000000": "crm.company.list?filter[>ID]="
                                            "999999"}}).json()
    recorded_empty = load("bitrix24/batch_list_empty.json")
    assert shape(empty["result"]["result"]) == shape(recorded_empty["result"]["result"])
    assert shape(empty["result"]["result_total"]) == shape(
        recorded_empty["result"]["result_total"])


# -- HubSpot (recorded batch/update and property bodies, legacy 429) -------------------------


def call_hub(app: HubSpotApp, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, f"{app.base_url}{path}", json=body, timeout=5,  # type: ignore[attr-defined]
                            headers={"Authorization": f"Bearer {app.state.token}"})


def test_hubspot_parser_reads_recorded_bodies() -> None:
    partial = load("hubspot/amp-labs/batch_update_contacts_err-partial-success.json")
    assert list(failed_ids(partial)) == ["unknownIdentifier888"]
    assert failed_ids(partial)["unknownIdentifier888"].startswith("OBJECT_NOT_FOUND: Could not")
    dupes = load("hubspot/amp-labs/batch_update_contacts_err-duplicate-ids.json")
    assert list(failed_ids(dupes)) == ["123456"]
    assert failed_ids(load("hubspot/amp-labs/batch_update_contacts_success.json")) == {}
    assert hub_describe(response(429, load(
        "hubspot/from_issues/error_429_rate_limit_secondly_legacy.json"))) == (
        "RATE_LIMIT (SECONDLY): You have reached your secondly limit.")
    assert hub_describe(response(400, load("hubspot/amp-labs/search_error-invalid-object.json"))
                        ) == "Unable to infer object type from: butterflies"


def test_hubspot_emulator_batch_update_bodies(hub: HubSpotApp) -> None:
    hub.state.add_property("tier", "Tier", "enumeration", options=["A", "B"])
    one, two = hub.state.add_company(name="One"), hub.state.add_company(name="Two")
    ok = call_hub(hub, "POST", "/crm/v3/objects/companies/batch/update", {"inputs": [
        {"id": one.id, "properties": {"tier": "A"}}, {"id": two.id, "properties": {"tier": "B"}}]})
    real_ok = load("hubspot/amp-labs/batch_update_contacts_success.json")
    assert ok.status_code == 200
    assert list(ok.json()) == list(real_ok)  # no errors key when all went through
    same_keys(ok.json(), {k: v for k, v in real_ok.items() if k != "results"})
    same_keys(ok.json()["results"][0], {k: v for k, v in real_ok["results"][0].items()
                                        if k not in ("url", "properties")})
    partial = call_hub(hub, "POST", "/crm/v3/objects/companies/batch/update", {"inputs": [
        {"id": one.id, "properties": {"tier": "B"}}, {"id": "999", "properties": {"tier": "A"}}]})
    real_partial = load("hubspot/amp-labs/batch_update_contacts_err-partial-success.json")
    assert partial.status_code == 207
    assert list(partial.json()) == list(real_partial)
    assert shape(partial.json()["errors"]) == shape(real_partial["errors"])
    invalid = call_hub(hub, "POST", "/crm/v3/objects/companies/batch/update", {"inputs": [
        {"id": one.id, "properties": {"no_such_prop": "x"}}]})
    real_invalid = load("hubspot/amp-labs/batch_update_contacts_err-many-invalid-properties.json")
    assert invalid.status_code == 400
    assert list(invalid.json()) == list(real_invalid)
    assert shape(invalid.json()) == shape(real_invalid)
    dupes = call_hub(hub, "POST", "/crm/v3/objects/companies/batch/update", {"inputs": [
        {"id": one.id, "properties": {}}, {"id": one.id, "properties": {}}]})
    assert shape(dupes.json()) == shape(
        load("hubspot/amp-labs/batch_update_contacts_err-duplicate-ids.json"))


def test_hubspot_emulator_property_and_paging_bodies(hub: HubSpotApp) -> None:
    created = call_hub(hub, "POST", "/crm/v3/properties/companies", load(
        "hubspot/amp-labs/custom_update_6-payload-update-property-interests.json"))
    assert created.status_code == 201
    real = load("hubspot/amp-labs/custom_update_7-response-update-property-interests.json")
    assert set(created.json()) == set(real)
    assert shape(created.json()) == shape(real)
    listed = call_hub(hub, "GET", "/crm/v3/properties/companies").json()
    sampled = load("hubspot/amp-labs/metadata-deals-properties-sampled.json")
    defined = next(p for p in listed["results"] if p.get("hubspotDefined"))
    same_keys(defined, {k: v for k, v in sampled["results"][0].items() if k != "options"})
    for i in range(3):
        hub.state.add_company(name=f"C{i}")
    page = call_hub(hub, "GET", "/crm/v3/objects/companies?limit=2").json()
    campaigns = load("hubspot/amp-labs/read_campaigns_1-first-page.json")
    same_keys(page["paging"], campaigns["paging"])  # next.after and next.link


def test_hubspot_emulator_429_has_the_recorded_keys(hub: HubSpotApp) -> None:
    hub.limiter.configure(limit=1, window=60)
    call_hub(hub, "GET", "/crm/v3/properties/companies")
    limited = call_hub(hub, "GET", "/crm/v3/properties/companies")
    assert limited.status_code == 429
    real = load("hubspot/from_issues/error_429_rate_limit_secondly_legacy.json")
    assert set(limited.json()) == set(real)
    assert limited.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"
