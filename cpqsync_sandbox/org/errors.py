"""Salesforce-shaped API errors, raised by the store and the query executor, rendered by REST.

REST answers ``[{"message", "errorCode", "fields"}]`` with the HTTP status; collections put the
same content under ``statusCode`` per record. One exception type carries all of it so every
layer reports failures the way a real org does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class OrgError(Exception):
    def __init__(
        self,
        error_code: str,
        message: str,
        fields: Sequence[str] = (),
        status: int = 400,
    ) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message
        self.fields = list(fields)
        self.status = status

    def rest_body(self) -> list[dict[str, Any]]:
        return [{"message": self.message, "errorCode": self.error_code, "fields": self.fields}]

    def collection_error(self) -> dict[str, Any]:
        return {"statusCode": self.error_code, "message": self.message, "fields": self.fields}


def not_found() -> OrgError:
    return OrgError("NOT_FOUND", "The requested resource does not exist", status=404)


def invalid_field(object_name: str, field: str) -> OrgError:
    return OrgError(
        "INVALID_FIELD",
        f"No such column '{field}' on sobject of type {object_name}",
        [field],
    )


def invalid_type(object_name: str) -> OrgError:
    return OrgError(
        "INVALID_TYPE",
        f"sObject type '{object_name}' is not supported. If you are attempting to use a custom "
        "object, be sure to append the '__c' after the entity name. Please reference your WSDL "
        "or the describe call for the appropriate names.",
    )
