"""The solution descriptor (spec §2.6): XML schema v2 that the developer cabinet takes."""

from __future__ import annotations

from urllib.parse import urlsplit
from xml.etree import ElementTree

from loyalty.settings_page.router import SETTINGS_PATH

NAMESPACE = "https://apps-api.moysklad.ru/xml/ns/appstore/app/v2"
SCHEMA_LOCATION = f"{NAMESPACE} {NAMESPACE}/application-v2.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
JSON_API_RESOURCE = "https://api.moysklad.ru/api/remap/1.2"


def check_public_url(public_url: str) -> str:
    """MoySklad calls HTTPS endpoints only; no query or fragment can be appended to."""
    parts = urlsplit(public_url.strip())
    if parts.scheme != "https" or not parts.netloc:
        raise ValueError(
            "the public URL must be an https:// address, e.g. https://loyalty.example.com"
        )
    if parts.query or parts.fragment:
        raise ValueError("the public URL must not have a query or a fragment")
    return public_url.strip().rstrip("/")


def build_descriptor(public_url: str) -> str:
    """`vendorApi/endpointBase` is the public URL (the Vendor API paths hang off it), the main
    iframe is the settings page, `access` is admin to JSON API 1.2, and `loyaltyApi` allows the
    `PUT …/loyalty` call."""
    base = check_public_url(public_url)
    ElementTree.register_namespace("", NAMESPACE)
    ElementTree.register_namespace("xsi", XSI)

    def tag(name: str) -> str:
        return f"{{{NAMESPACE}}}{name}"

    root = ElementTree.Element(
        tag("ServerApplication"), {f"{{{XSI}}}schemaLocation": SCHEMA_LOCATION}
    )
    iframes = ElementTree.SubElement(root, tag("iframes"))
    ElementTree.SubElement(
        iframes, tag("iframe"), {"type": "main", "sourceUrl": base + SETTINGS_PATH}
    )
    vendor_api = ElementTree.SubElement(root, tag("vendorApi"))
    ElementTree.SubElement(vendor_api, tag("endpointBase")).text = base
    access = ElementTree.SubElement(root, tag("access"))
    ElementTree.SubElement(access, tag("resource")).text = JSON_API_RESOURCE
    ElementTree.SubElement(access, tag("scope")).text = "admin"
    ElementTree.SubElement(root, tag("loyaltyApi"))
    ElementTree.indent(root)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + ElementTree.tostring(root, encoding="unicode")
        + "\n"
    )
