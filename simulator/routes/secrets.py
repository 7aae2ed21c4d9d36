"""Secrets: search, summary, read (with field values, generated unless given at creation), create."""

from __future__ import annotations

from typing import Any

from simulator import render
from simulator.paging import BadRequest, Filters, parse_paging
from simulator.records import ROOT_FOLDER_ID, TEMPLATES, Template
from simulator.routes.base import V1, Request, Resource, Result, Route, existing
from simulator.routes.fields import bool_field, int_field, required, str_field


class Secrets(Resource):
    """The /secrets endpoints."""

    def routes(self) -> list[Route]:
        """GET/POST /secrets, GET /secrets/{id}, GET /secrets/{id}/summary."""
        return [
            ("GET", f"{V1}/secrets", self.search_secrets, "secrets"),
            ("POST", f"{V1}/secrets", self.create_secret, None),
            ("GET", f"{V1}/secrets/{{id}}", self.get_secret, None),
            ("GET", f"{V1}/secrets/{{id}}/summary", self.get_secret_summary, None),
        ]

    def search_secrets(self, req: Request) -> Result:
        """GET /secrets: active secrets by default; folder (and subfolders), text, template, site, heartbeat."""
        paging = parse_paging(req.query, self.pager.page_cap)
        extended = paging.filters.texts("extendedFields")

        def candidates(f: Filters) -> list[Any]:
            org = self.org
            folder_id = f.int("folderId")
            include_inactive = f.bool("includeInactive", False)
            include_active = f.bool("includeActive", True)
            text = f.text("searchText")
            exact = f.bool("isExactMatch", False)
            template_id = f.int("secretTemplateId")
            site_id = f.int("siteId")
            heartbeat = f.text("heartbeatStatus")
            if folder_id is None:
                source: list[Any] = list(org.secret_map.values())
            else:
                folders = (org.descendant_folder_ids(folder_id) if f.bool("includeSubFolders", False)
                           else [folder_id])
                ids = sorted(s for fid in folders for s in org.secrets_by_folder.get(fid, ()))
                source = [org.secret_map[s] for s in ids]
            lowered = text.lower() if text else None
            out = []
            for s in source:
                if not ((s.active and include_active) or (not s.active and include_inactive)):
                    continue
                if lowered and ((s.name.lower() != lowered) if exact else (lowered not in s.name.lower())):
                    continue
                if template_id is not None and s.template_id != template_id:
                    continue
                if site_id is not None and s.site_id != site_id:
                    continue
                if heartbeat and s.last_heartbeat_status.lower() != heartbeat.lower():
                    continue
                out.append(s)
            return out

        return self.pager.page(req, ("secrets",), candidates, lambda s: render.secret_record(s, extended))

    def get_secret(self, req: Request) -> Result:
        """GET /secrets/{id} (or /secrets/0?secretPath=\\Folder\\Name): the SecretModel with field values."""
        with self.org.lock:
            secret_id = req.id_or_path("secretPath", self._secret_by_path)
            return 200, render.secret_model(self._get_secret(secret_id, req.flag("includeInactive")))

    def _secret_by_path(self, path: str) -> int:
        folder_path, _, name = path.rstrip("\\").rpartition("\\")
        folder_id = self._folder_by_path(folder_path) if folder_path else ROOT_FOLDER_ID
        secrets = self.org.secret_map
        return existing(next((secret_id for secret_id in self.org.secrets_by_folder.get(folder_id, ())
                              if secrets[secret_id].name.lower() == name.lower()), None))

    def get_secret_summary(self, req: Request) -> Result:
        """GET /secrets/{id}/summary: the search record, inactive secrets included."""
        with self.org.lock:
            return 200, render.secret_record(self._get_secret(req.id(), True))

    def create_secret(self, req: Request) -> Result:
        """POST /secrets: a new secret of a template, with the field values given."""
        body = req.json()
        name = required(str_field(body, "name"), "name")
        template_id = required(int_field(body, "secretTemplateId"), "secretTemplateId")
        folder_id = int_field(body, "folderId")
        template = TEMPLATES.get(template_id)
        if template is None:
            raise BadRequest("Invalid secret template.", "API_InvalidSecretTemplate")
        values = _field_values(template, body.get("items") or [])
        org = self.org
        with org.lock:
            if folder_id not in (None, ROOT_FOLDER_ID):
                assert folder_id is not None
                self._get_folder(folder_id)
            secret_id = org.add_secret(
                name, folder_id, inherits_permissions=True, template_id=template_id, items=values,
                auto_change_enabled=bool_field(body, "autoChangeEnabled", False),
                check_out_enabled=bool_field(body, "checkOutEnabled", False),
                requires_comment=bool_field(body, "requiresComment", False),
                site_id=int_field(body, "siteId") or 1,
            )
            if not bool_field(body, "enableInheritPermissions", True):  # starts from the folder's
                org.set_secret_inherits_permissions(secret_id, False)
            return 200, render.secret_model(org.secret_map[secret_id])


def _field_values(template: Template, items: Any) -> dict[str, str]:
    """Field slug -> value from a create body's `items` (each named by slug, field id or field name)."""
    if not isinstance(items, list):
        raise BadRequest("The request is invalid.", "API_InvalidRequest", "items must be a list.")
    values: dict[str, str] = {}
    for item in items:
        if not isinstance(item, dict):
            raise BadRequest("The request is invalid.", "API_InvalidRequest", "items must be objects.")
        slug = str(item.get("slug") or "").lower()
        field = next((f for f in template.fields if f.slug == slug or f.field_id == item.get("fieldId")
                      or f.name.lower() == str(item.get("fieldName") or "").lower()), None)
        if field is None:
            raise BadRequest(f"Unknown field for template {template.name}.", "API_InvalidSecretField")
        values[field.slug] = "" if item.get("itemValue") is None else str(item.get("itemValue"))
    return values
