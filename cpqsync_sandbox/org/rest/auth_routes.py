"""OAuth token, userinfo/identity, and the SOAP partner ``login()`` other tools still use."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from aiohttp import web

from cpqsync_sandbox.org.oauth import OAuthError, Session
from cpqsync_sandbox.org.rest.context import RestContext
from cpqsync_sandbox.org.rest.responses import CONTEXT_KEY, SESSION_KEY, sf_json

_PARTNER_NS = "urn:partner.soap.sforce.com"
_MAX_SOAP_BYTES = 64 * 1024


async def token(request: web.Request) -> web.Response:
    ctx: RestContext = request.app[CONTEXT_KEY]
    form = await request.post()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    body = ctx.issuer.grant(fields, instance_url=ctx.base_url, login_url=ctx.base_url)
    return sf_json(body)


async def userinfo(request: web.Request) -> web.Response:
    ctx: RestContext = request.app[CONTEXT_KEY]
    session: Session = request[SESSION_KEY]
    return sf_json(ctx.issuer.userinfo(session, login_url=ctx.base_url, instance_url=ctx.base_url))


async def identity(request: web.Request) -> web.Response:
    ctx: RestContext = request.app[CONTEXT_KEY]
    creds = ctx.issuer.credentials
    if (request.match_info["org_id"], request.match_info["user_id"]) != (
        creds.org_id,
        creds.user_id,
    ):
        raise OAuthError("Bad_Id", "Bad_Id", status=403)
    session: Session = request[SESSION_KEY]
    info = ctx.issuer.userinfo(session, login_url=ctx.base_url, instance_url=ctx.base_url)
    return sf_json({**info, "id": info["sub"], "username": creds.username})


def _soap_fault(code: str, message: str) -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>sf:{escape(code)}</faultcode>"
        f"<faultstring>{escape(code)}: {escape(message)}</faultstring>"
        '<detail><sf:LoginFault xsi:type="sf:LoginFault">'
        f"<sf:exceptionCode>{escape(code)}</sf:exceptionCode>"
        f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage>"
        "</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return web.Response(text=body, status=500, content_type="text/xml", charset="UTF-8")


def _login_fields(payload: str) -> tuple[str, str] | None:
    """username and password of a partner ``login`` envelope, or None if it is not one.

    Entity declarations are refused before parsing, so no entity expansion (billion laughs,
    external entities) can happen in the standard-library parser.
    """
    if len(payload) > _MAX_SOAP_BYTES or re.search(r"<!(DOCTYPE|ENTITY)", payload, re.I):
        return None
    try:
        root = ET.fromstring(payload)  # noqa: S314 - DTDs rejected above
    except ET.ParseError:
        return None
    login = root.find(f".//{{{_PARTNER_NS}}}login")
    if login is None:
        return None
    username = login.findtext(f"{{{_PARTNER_NS}}}username") or ""
    password = login.findtext(f"{{{_PARTNER_NS}}}password") or ""
    return username, password


async def soap_login(request: web.Request) -> web.Response:
    ctx: RestContext = request.app[CONTEXT_KEY]
    version = request.match_info["version"]
    fields = _login_fields(await request.text())
    if fields is None:
        return _soap_fault("INVALID_REQUEST", "Expected a partner API login request")
    try:
        session = ctx.issuer.soap_login(*fields)
    except OAuthError as exc:
        return _soap_fault(exc.error, exc.description)
    c = ctx.issuer.credentials
    base = ctx.base_url
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns="{_PARTNER_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><loginResponse><result>"
        f"<metadataServerUrl>{base}/services/Soap/m/{escape(version)}/{c.org_id}"
        "</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
        f"<serverUrl>{base}/services/Soap/u/{escape(version)}/{c.org_id}</serverUrl>"
        f"<sessionId>{escape(session.token)}</sessionId>"
        f"<userId>{c.user_id}</userId>"
        "<userInfo>"
        f"<organizationId>{c.org_id}</organizationId>"
        "<organizationName>cpqsync Simulated Org</organizationName>"
        f"<userEmail>{escape(c.username)}</userEmail>"
        f"<userId>{c.user_id}</userId>"
        f"<userName>{escape(c.username)}</userName>"
        "</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )
    return web.Response(text=body, content_type="text/xml", charset="UTF-8")
