"""The descriptor printed for MoySklad's developer cabinet points only at routes that exist."""

from __future__ import annotations

import uuid
from xml.etree import ElementTree

from click.testing import CliRunner
from starlette.routing import Match

from loyalty.cli import cli
from loyalty.config import Settings
from loyalty.connection.service import loyalty_base_url
from loyalty.main import create_app

PUBLIC_URL = "https://loyalty.example.com"
NS = {"ms": "https://apps-api.moysklad.ru/xml/ns/appstore/app/v2"}


def descriptor() -> ElementTree.Element:
    result = CliRunner().invoke(cli, ["descriptor", "--public-url", PUBLIC_URL + "/"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ElementTree.fromstring(result.stdout.split("\n", 1)[1])


def route_exists(settings: Settings, url: str, method: str) -> bool:
    assert url.startswith(PUBLIC_URL + "/"), url
    path = url.removeprefix(PUBLIC_URL)
    app = create_app(settings)
    scope = {"type": "http", "path": path, "method": method, "root_path": ""}
    return any(route.matches(scope)[0] == Match.FULL for route in app.routes)


def test_descriptor_is_v2_with_every_block_a_loyalty_solution_needs() -> None:
    root = descriptor()
    assert root.tag == "{https://apps-api.moysklad.ru/xml/ns/appstore/app/v2}ServerApplication"
    schema = root.get("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation")
    assert schema is not None and schema.endswith("/app/v2/application-v2.xsd")
    assert root.findtext("ms:access/ms:resource", namespaces=NS) == (
        "https://api.moysklad.ru/api/remap/1.2"
    )
    assert root.findtext("ms:access/ms:scope", namespaces=NS) == "admin"
    assert root.find("ms:loyaltyApi", NS) is not None
    iframe = root.find("ms:iframes/ms:iframe", NS)
    assert iframe is not None and iframe.get("type") == "main"


def test_every_url_is_a_real_route(app_settings: Settings) -> None:
    root = descriptor()
    iframe = root.find("ms:iframes/ms:iframe", NS)
    assert iframe is not None
    assert route_exists(app_settings, str(iframe.get("sourceUrl")), "GET")
    endpoint_base = root.findtext("ms:vendorApi/ms:endpointBase", namespaces=NS)
    assert endpoint_base == PUBLIC_URL
    vendor_url = f"{endpoint_base}/api/moysklad/vendor/1.0/apps/{uuid.uuid4()}/{uuid.uuid4()}"
    for method in ("PUT", "DELETE"):
        assert route_exists(app_settings, vendor_url, method)
    # The LoyaltyAPI base URL we give MoySklad in PUT …/loyalty serves the till's calls.
    loyalty = loyalty_base_url(PUBLIC_URL)
    for path in ("/counterparty", "/counterparty/detail", "/retaildemand/recalc", "/retaildemand"):
        assert route_exists(app_settings, loyalty + path, "POST")
    assert not route_exists(app_settings, PUBLIC_URL + "/no/such/page", "GET")


def test_moysklad_calls_https_only() -> None:
    result = CliRunner().invoke(cli, ["descriptor", "--public-url", "http://loyalty.example.com"])
    assert result.exit_code == 2 and "https://" in result.output
