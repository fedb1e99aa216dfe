"""The vendors' own Python SDKs doing ordinary work against the CRM emulators (issue 17).

``hubspot-api-client`` (HubSpot's), ``fast-bitrix24`` and ``b24pysdk`` (Bitrix24's own) and
``amocrm-api`` (the most used amoCRM client on PyPI) run unchanged. The two that hard-code
their vendor's https host (b24pysdk, amocrm-api) reach the loopback emulator through a
``requests`` transport hook that rewrites that one host to the emulator's address, so nothing
leaves 127.0.0.1 and every line of the SDK's own code runs.

The emulators' rate limiters are off here: the SDKs pace themselves by the wall clock, which
the virtual clock of these tests does not move (the limiters are tested with the adapters).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import requests.adapters

from sheets_sync_emulators.crm import AmoCrmApp, Bitrix24App, HubSpotApp

pytestmark = [
    # amocrm-api checks its token's expiry with datetime.utcnow() (deprecated from 3.12)
    pytest.mark.filterwarnings("ignore:datetime.datetime.utc:DeprecationWarning"),
    # hubspot-api-client 11 reads headers with urllib3's deprecated getheader()
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),
]


@pytest.fixture
def loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """``{"https://vendor.host": "http://127.0.0.1:port"}``: requests to those hosts go to
    the emulator (the SDK's own code, headers and paths unchanged)."""
    hosts: dict[str, str] = {}
    send = requests.adapters.HTTPAdapter.send

    def rewrite(self: requests.adapters.HTTPAdapter, request: requests.PreparedRequest,
                *args: Any, **kwargs: Any) -> requests.Response:
        for host, target in hosts.items():
            if request.url and request.url.startswith(host + "/"):
                request.url = target + request.url[len(host):]
        return send(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", rewrite)
    yield hosts


# -- HubSpot: hubspot-api-client ---------------------------------------------------------------


@pytest.fixture
def hubspot_client(hub: HubSpotApp) -> Any:
    import hubspot

    hub.limiter.configure(enabled=False)
    return hubspot.Client.create(access_token=hub.state.token,
                                 host=hub.base_url)  # type: ignore[attr-defined]


def test_hubspot_client_companies(hub: HubSpotApp, hubspot_client: Any) -> None:
    from hubspot.crm.companies import (
        ApiException,
        PublicObjectSearchRequest,
        SimplePublicObjectInput,
        SimplePublicObjectInputForCreate,
    )

    acme = hub.state.add_company(name="Acme", annualrevenue="125000")
    for i in range(120):
        hub.state.add_company(name=f"Filler {i}")
    api = hubspot_client.crm.companies
    got = api.basic_api.get_by_id(acme.id, properties=["name", "annualrevenue"])
    assert (got.id, got.properties["annualrevenue"]) == (acme.id, "125000")
    made = api.basic_api.create(SimplePublicObjectInputForCreate(properties={"name": "Новая"}))
    assert hub.state.value_of(made.id, "name") == "Новая"
    api.basic_api.update(made.id, SimplePublicObjectInput(properties={"annualrevenue": "7"}))
    assert hub.state.value_of(made.id, "annualrevenue") == "7"
    everything = api.get_all(properties=["name"])
    assert len(everything) == 122 and len({c.id for c in everything}) == 122
    found = api.search_api.do_search(PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "name", "operator": "EQ",
                                     "value": "acme"}]}], properties=["name"]))
    assert found.total == 1 and found.results[0].id == acme.id
    api.basic_api.archive(made.id)
    with pytest.raises(ApiException) as info:
        api.basic_api.get_by_id(made.id)
    assert info.value.status == 404


def test_hubspot_client_contacts_and_deals(hub: HubSpotApp, hubspot_client: Any) -> None:
    from hubspot.crm.deals import PublicObjectSearchRequest

    acme = hub.state.add_company(name="Acme")
    hub.state.seed_deals(40, seed=1)
    crm = hubspot_client.crm
    contact = crm.contacts.basic_api.create({
        "properties": {"email": "anna@acme.test", "firstname": "Анна"},
        "associations": [{"to": {"id": acme.id}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]}]})
    read = crm.contacts.basic_api.get_by_id(contact.id, associations=["companies"])
    assert read.properties["email"] == "anna@acme.test"
    assert [r.id for r in read.associations["companies"].results] == [acme.id]
    deals = crm.deals.get_all(properties=["amount", "closedate", "dealstage"],
                              associations=["companies"])
    assert len(deals) == 40
    assert all(d.associations["companies"].results[0].id == acme.id for d in deals)
    won_stages = {s.id for p in crm.pipelines.pipelines_api.get_all("deals").results
                  for s in p.stages if s.metadata["isClosed"] == "true"
                  and float(s.metadata["probability"]) == 1.0}
    assert won_stages == {"closedwon"}
    won = crm.deals.search_api.do_search(PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "dealstage", "operator": "IN",
                                     "values": sorted(won_stages)}]}],
        properties=["amount"], limit=100))
    assert won.total == sum(d.properties["dealstage"] == "closedwon" for d in deals) > 0
    links = crm.associations.v4.basic_api.get_page("deals", deals[0].id, "companies")
    assert [r.to_object_id for r in links.results] == [acme.id]


def test_hubspot_client_sees_what_is_not_emulated(hub: HubSpotApp, hubspot_client: Any) -> None:
    from hubspot.crm.tickets import ApiException

    with pytest.raises(ApiException) as info:
        hubspot_client.crm.tickets.basic_api.get_page()
    assert info.value.status == 501 and "not emulated: GET /crm/v3/objects/tickets" in \
        info.value.body


# -- Bitrix24: fast-bitrix24 and b24pysdk ------------------------------------------------------


def test_fast_bitrix24_lists_reads_and_writes(b24: Bitrix24App) -> None:
    from fast_bitrix24 import Bitrix

    b24.bucket.configure(enabled=False)
    ids = [b24.state.add_company(f"Компания {i}", REVENUE=i * 1000).id for i in range(130)]
    b24.state.seed_deals(260, seed=2)
    bitrix = Bitrix(f"{b24.base_url}/rest/1/{b24.state.code}/",  # type: ignore[attr-defined]
                    verbose=False)
    companies = bitrix.get_all("crm.company.list", params={"select": ["ID", "TITLE"]})
    assert sorted(int(c["ID"]) for c in companies) == ids
    won = bitrix.get_all("crm.deal.list", params={
        "select": ["ID", "COMPANY_ID", "OPPORTUNITY", "CLOSEDATE"],
        "filter": {"STAGE_SEMANTIC_ID": "S"}})
    assert len(won) == sum(d.fields["STAGE_SEMANTIC_ID"] == "S"
                           for d in b24.state.deals.values()) > 50
    by_id = bitrix.get_by_ID("crm.company.get", ids[:3])
    assert {k: v["TITLE"] for k, v in by_id.items()} == {
        str(i): f"Компания {n}" for n, i in enumerate(ids[:3])}
    new_id = bitrix.call("crm.contact.add", {"fields": {"NAME": "Анна",
                                                         "COMPANY_ID": ids[0]}})
    assert b24.state.contacts[int(new_id)].fields["NAME"] == "Анна"
    bitrix.call("crm.company.update", [{"ID": i, "fields": {"TITLE": f"Новое {i}"}}
                                       for i in ids[:60]])
    assert all(b24.state.companies[i].fields["TITLE"] == f"Новое {i}" for i in ids[:60])
    chained = bitrix.call_batch({"halt": 0, "cmd": {
        "one": f"crm.company.get?ID={ids[5]}",
        "deals": "crm.deal.list?filter[COMPANY_ID]=$result[one][ID]&select[]=ID"}})
    wanted = sorted(d.id for d in b24.state.deals.values() if d.fields["COMPANY_ID"] == str(ids[5]))
    assert sorted(int(d["ID"]) for d in chained["deals"]) == wanted


def test_b24pysdk_calls_methods_in_its_own_case(b24: Bitrix24App, loopback: dict[str, str]
                                                ) -> None:
    import b24pysdk

    b24.bucket.configure(enabled=False)
    loopback["https://portal.bitrix24.test"] = b24.base_url  # type: ignore[attr-defined]
    ids = [b24.state.add_company(f"Компания {i}").id for i in range(75)]
    b24.state.seed_deals(120, seed=3)
    client = b24pysdk.Client(b24pysdk.BitrixWebhook(
        domain="portal.bitrix24.test", webhook_token=f"1/{b24.state.code}"))
    crm = client.crm
    assert [c["ID"] for c in crm.company.list(select=["ID", "TITLE"]).result] == \
        [str(i) for i in ids[:50]]
    everything = crm.company.list(select=["ID"]).as_list().result
    assert sorted(int(c["ID"]) for c in everything) == ids
    assert crm.company.get(bitrix_id=ids[1]).result["TITLE"] == "Компания 1"
    contact = crm.contact.add(fields={"NAME": "Анна", "COMPANY_ID": ids[0]}).result
    assert crm.contact.get(bitrix_id=contact).result["COMPANY_ID"] == str(ids[0])
    lead = crm.lead.add(fields={"TITLE": "Заявка", "OPPORTUNITY": 500}).result
    assert [r["TITLE"] for r in crm.lead.list().result] == ["Заявка"] and lead
    deals = crm.deal.list(select=["ID", "STAGE_SEMANTIC_ID"],
                          filter={"STAGE_SEMANTIC_ID": "F"}).as_list_fast().result
    assert len(list(deals)) == sum(d.fields["STAGE_SEMANTIC_ID"] == "F"
                                   for d in b24.state.deals.values()) > 0
    assert all(e.status == 200 for e in b24.log.entries)  # in b24pysdk's own spelling


# -- amoCRM: amocrm-api ------------------------------------------------------------------------


@pytest.fixture
def amocrm_client(amo: AmoCrmApp, loopback: dict[str, str],
                  monkeypatch: pytest.MonkeyPatch) -> Any:
    """amocrm-api's global token manager, given an unexpired token for the emulator."""
    import jwt
    from amocrm.v2 import tokens

    token = jwt.encode({"exp": 4102444800, "sub": "sheets-sync emulator"},
                       "a key of at least thirty-two bytes.", algorithm="HS256")
    amo.state.token = token
    amo.limiter.configure(enabled=False)
    loopback["https://example.amocrm.ru"] = amo.base_url  # type: ignore[attr-defined]
    storage = tokens.MemoryTokensStorage()
    storage.save_tokens(token, "refresh-token")
    manager = tokens.TokenManager()
    manager(client_id="id", client_secret="secret", subdomain="example",
            redirect_url="https://example.test/", storage=storage)
    monkeypatch.setattr(tokens.default_token_manager, "__dict__", manager.__dict__)
    return manager


def test_amocrm_api_companies_leads_and_contacts(amo: AmoCrmApp, amocrm_client: Any) -> None:
    from amocrm.v2 import Company, Contact, Lead, Pipeline, filters

    ids = [amo.state.add_company(f"Компания {i}").id for i in range(300)]
    amo.state.seed_deals(60, seed=4)
    assert len(list(Company.objects.all())) == 300
    company = Company.objects.get(ids[0])
    assert company.name == "Компания 0"
    assert sorted(lead.id for lead in company.leads) == sorted(
        lead.id for lead in amo.state.leads.values() if lead.company_id == ids[0])
    company.name = "Переименована"
    company.save()
    assert amo.state.companies[ids[0]].name == "Переименована"
    created = Company.objects.create(name="Новая")
    assert amo.state.companies[created.id].name == "Новая"
    found = list(Company.objects.filter(query="компания 29"))
    assert sorted(c.name for c in found) == ["Компания 29"] + [f"Компания {i}"
                                                              for i in range(290, 300)]
    some = sorted(amo.state.leads)[:2]
    by_id = list(Lead.objects.filter(filters=[filters.SingleListFilter("id")(some)]))
    assert sorted(lead.id for lead in by_id) == some
    won = next(lead for lead in amo.state.leads.values() if lead.extra["status_id"] == 142)
    lead = Lead.objects.get(won.id)
    assert (lead.price, lead.status.name) == (won.extra["price"], "Успешно реализовано")
    assert lead.pipeline.name == "Воронка" and lead.closed_at is not None
    new_lead = Lead.objects.create(name="Заказ", price=1500)
    assert amo.state.leads[new_lead.id].extra["price"] == 1500
    contact = Contact.objects.create(name="Анна Петрова")
    assert amo.state.contacts[contact.id].name == "Анна Петрова"
    assert [p.name for p in Pipeline.objects.all()] == ["Воронка"]
    assert all(e.status < 300 for e in amo.log.entries)
