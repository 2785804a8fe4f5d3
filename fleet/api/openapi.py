"""The service's OpenAPI 3.0 document, served at `/openapi.json`."""

from __future__ import annotations

from typing import Any

from fleet.api.schema import MAX_BATCH, REPORT_FIELDS, Rule
from fleet.store.model import STATES


def _field_schema(rule: Rule) -> dict[str, Any]:
    schema: dict[str, Any]
    if rule.kind == "string":
        schema = {"type": "string", "maxLength": rule.max_len}
        if rule.required:
            schema["minLength"] = 1
    elif rule.kind == "enum":
        schema = {"type": "string", "enum": list(rule.choices)}
    elif rule.kind == "time":
        schema = {"type": "string", "format": "date-time"}
    elif rule.kind == "uuid":
        schema = {"type": "string", "format": "uuid"}
    elif rule.kind == "int":
        schema = {"type": "integer", "minimum": 0}
    elif rule.kind == "strings":
        schema = {"type": "array", "maxItems": rule.max_len,
                  "items": {"type": "string", "maxLength": 512}}
    elif rule.kind == "failures":
        schema = {"type": "array", "maxItems": rule.max_len, "items": {
            "type": "object", "additionalProperties": False,
            "required": ["subject", "message"],
            "properties": {"subject": {"type": "string", "maxLength": 512},
                           "message": {"type": "string", "maxLength": 4096}}}}
    else:
        schema = {"type": "object", "maxProperties": rule.max_len,
                  "additionalProperties": {"type": "number", "minimum": 0}}
    if rule.nullable and not rule.required:
        schema["nullable"] = True
    return schema


def _error() -> dict[str, Any]:
    return {"description": "error", "content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/Error"}}}}


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def document() -> dict[str, Any]:
    report = {
        "type": "object", "additionalProperties": False,
        "required": [n for n, r in REPORT_FIELDS.items() if r.required],
        "properties": {n: _field_schema(r) for n, r in REPORT_FIELDS.items()},
    }
    node_status = {"type": "object", "properties": {
        "name": {"type": "string"}, "tier": {"type": "string"}, "region": {"type": "string"},
        "state": {"type": "string", "enum": list(STATES)},
        "revision": {"type": "string", "nullable": True},
        "desired_revision": {"type": "string", "nullable": True},
        "result": {"type": "string", "nullable": True},
        "health": {"type": "string", "nullable": True},
        "last_report": {"type": "string", "nullable": True, "format": "date-time"},
        "reports_received": {"type": "integer"}}}
    node_query = [
        {"name": "tier", "in": "query", "schema": {"type": "string", "maxLength": 63}},
        {"name": "region", "in": "query", "schema": {"type": "string", "maxLength": 63}},
        {"name": "state", "in": "query", "schema": {"type": "string", "enum": list(STATES)}},
        {"name": "limit", "in": "query",
         "schema": {"type": "integer", "minimum": 1, "maximum": 10000}},
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    ]
    operator: list[dict[str, list[str]]] = [{"operatorToken": []}]
    return {
        "openapi": "3.0.3",
        "info": {"title": "edgesync fleet service", "version": "1"},
        "paths": {
            "/v1/reports": {"post": {
                "summary": "Ingest a batch of reports from one node",
                "security": [{"nodeToken": []}],
                "requestBody": {"required": True, "content": _json("ReportBatch")},
                "responses": {"200": {"description": "stored", "content": _json("IngestResult")},
                              "401": _error(), "403": _error(), "413": _error(),
                              "422": _error(), "429": _error()}}},
            "/v1/nodes": {"get": {
                "summary": "Nodes, worst state first", "security": operator,
                "parameters": node_query,
                "responses": {"200": {"description": "nodes", "content": {"application/json": {
                    "schema": {"type": "object", "properties": {
                        "nodes": {"type": "array", "items": node_status}}}}}},
                    "401": _error(), "422": _error()}}},
            "/v1/nodes/{name}": {"get": {
                "summary": "One node and its recent reports", "security": operator,
                "parameters": [{"name": "name", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": {"description": "node", "content": {
                    "application/json": {"schema": {"type": "object"}}}},
                    "401": _error(), "404": _error()}}},
            "/v1/summary": {"get": {
                "summary": "Counts per tier and region by state and by revision",
                "security": operator,
                "responses": {"200": {"description": "summary", "content": {
                    "application/json": {"schema": {"type": "object"}}}}, "401": _error()}}},
            "/v1/status": {"get": {
                "summary": "What `fleet status --output json` prints", "security": operator,
                "parameters": [{"name": "limit", "in": "query", "schema": {
                    "type": "integer", "minimum": 1, "maximum": 100000}}],
                "responses": {"200": {"description": "status", "content": {
                    "application/json": {"schema": {"type": "object"}}}},
                    "401": _error(), "422": _error()}}},
            "/v1/metrics": {"get": {
                "summary": "Delivery metrics over a window", "security": operator,
                "parameters": [{"name": "days", "in": "query", "schema": {
                    "type": "number", "minimum": 0.01, "maximum": 365}},
                    {"name": "revision", "in": "query", "schema": {
                        "type": "string", "maxLength": 128}}],
                "responses": {"200": {"description": "metrics", "content": {
                    "application/json": {"schema": {"type": "object"}}}},
                    "401": _error(), "422": _error()}}},
            "/v1/rollouts": {"post": {
                "summary": "Start a staged rollout (agents enforce it through the gate)",
                "security": operator,
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": False,
                    "required": ["revision", "waves"], "properties": {
                        "revision": {"type": "string", "minLength": 1, "maxLength": 128},
                        "gate": {"type": "number", "minimum": 0, "maximum": 1},
                        "waves": {"type": "array", "minItems": 1, "maxItems": 50, "items": {
                            "type": "object", "additionalProperties": False,
                            "required": ["tier", "percent"], "properties": {
                                "tier": {"type": "string", "minLength": 1, "maxLength": 63},
                                "percent": {"type": "number", "exclusiveMinimum": True,
                                            "minimum": 0, "maximum": 100}}}}}}}}},
                "responses": {"201": {"description": "started", "content": {
                    "application/json": {"schema": {"type": "object"}}}},
                    "401": _error(), "409": _error(), "422": _error()}}},
            "/v1/rollouts/gate": {"get": {
                "summary": "What the latest rollout allows the calling node: may it move "
                           "to the rollout's revision yet",
                "security": [{"nodeToken": []}],
                "responses": {"200": {"description": "gate", "content": {
                    "application/json": {"schema": {
                        "type": "object",
                        "required": ["rollout", "revision", "state", "gated", "released",
                                     "wave"],
                        "properties": {
                            "rollout": {"type": "integer", "nullable": True},
                            "revision": {"type": "string", "nullable": True},
                            "state": {"type": "string", "nullable": True},
                            "gated": {"type": "boolean"},
                            "released": {"type": "boolean"},
                            "wave": {"type": "integer", "nullable": True}}}}}},
                    "401": _error(), "503": _error()}}},
            "/v1/rollouts/{rollout_id}": {"get": {
                "summary": "A rollout and its waves' gates", "security": operator,
                "parameters": [{"name": "rollout_id", "in": "path", "required": True,
                                "schema": {"type": "integer", "minimum": 1}}],
                "responses": {"200": {"description": "rollout", "content": {
                    "application/json": {"schema": {"type": "object"}}}},
                    "401": _error(), "404": _error(), "422": _error()}}},
            "/v1/rollouts/{rollout_id}/{action}": {"post": {
                "summary": "Promote to the next wave (if its gate passes) or abort",
                "security": operator,
                "parameters": [
                    {"name": "rollout_id", "in": "path", "required": True,
                     "schema": {"type": "integer", "minimum": 1}},
                    {"name": "action", "in": "path", "required": True,
                     "schema": {"type": "string", "enum": ["promote", "abort"]}},
                    {"name": "force", "in": "query", "schema": {"type": "boolean"}}],
                "responses": {"200": {"description": "rollout", "content": {
                    "application/json": {"schema": {"type": "object"}}}},
                    "401": _error(), "404": _error(), "409": _error(), "422": _error()}}},
            "/healthz": {"get": {"summary": "Liveness", "security": [],
                                 "responses": {"200": {"description": "ok"}}}},
        },
        "components": {
            "securitySchemes": {
                "nodeToken": {"type": "http", "scheme": "bearer"},
                "operatorToken": {"type": "http", "scheme": "bearer"},
            },
            "schemas": {
                "Report": report,
                "ReportBatch": {"type": "object", "additionalProperties": False,
                                "required": ["reports"], "properties": {"reports": {
                                    "type": "array", "minItems": 1, "maxItems": MAX_BATCH,
                                    "items": {"$ref": "#/components/schemas/Report"}}}},
                "IngestResult": {"type": "object", "properties": {
                    "accepted": {"type": "integer"}, "duplicates": {"type": "integer"}}},
                "Error": {"type": "object", "properties": {
                    "error": {"type": "string"}, "field": {"type": "string"},
                    "index": {"type": "integer"}}},
            },
        },
    }
