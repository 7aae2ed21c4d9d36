"""Folders and secrets (the objects permissions are on)."""

from __future__ import annotations

from typing import Any

from simulator import render
from simulator.api_base import ApiBase, Request, Result, bool_field, contains, int_field, str_field
from simulator.paging import BadRequest, Filters, parse_paging
from simulator.records import ROOT_FOLDER_ID, TEMPLATES


class ObjectsApi(ApiBase):
    """Folders and secrets."""

    # ------------------------------------------------------------------ folders
    def _folder_candidates(self, f: Filters) -> list[Any]:
        parent = f.int("parentFolderId")
        folder_type = f.int("folderTypeId")
        text = f.text("searchText")
        return [x for x in self.org.folder_map.values()
                if (parent is None or x.parent_id == parent)
                and (folder_type is None or x.folder_type_id == folder_type) and contains(text, x.name)]

    def search_folders(self, req: Request) -> Result:
        return self._page(req, ("folders",), self._folder_candidates, self._r(render.folder_record))

    def lookup_folders(self, req: Request) -> Result:
        return self._page(req, ("folders_lookup",), self._folder_candidates,
                          lambda x: {"id": x.id, "value": x.name})

    def get_folder(self, req: Request) -> Result:
        with self.org.lock:
            folder_id = req.id()
            path = (req.query.get("folderpath") or [""])[-1]
            if folder_id == 0 and path:  # GET /folders/0?folderPath=\\A\\B, as the SDKs do
                folder_id = self._folder_by_path(path)
            folder = self._get_folder(folder_id)
            return 200, render.folder_model(self.org, folder, all_children=req.flag("getAllChildren"),
                                            with_templates=req.flag("includeAssociatedTemplates"))

    def create_folder(self, req: Request) -> Result:
        body = req.json()
        name = str_field(body, "folderName", required=True)
        assert name is not None
        parent = int_field(body, "parentFolderId")
        parent = ROOT_FOLDER_ID if parent in (None, 0, ROOT_FOLDER_ID) else parent
        with self.org.lock:
            if parent != ROOT_FOLDER_ID:
                self._get_folder(parent)
            for sibling in self.org.folder_children.get(parent, ()):
                if self.org.folder_map[sibling].name.lower() == name.lower():
                    raise BadRequest("A folder with this name already exists here.", "API_DuplicateFolderName")
            folder_id = self.org.add_folder(name, parent, True, folder_type_id=int_field(body, "folderTypeId") or 1)
            if not bool_field(body, "inheritPermissions", True):  # starts from a copy of the parent's
                self.org.set_folder_inherit_permissions(folder_id, False)
            return 200, render.folder_model(self.org, self.org.folder_map[folder_id])

    # ------------------------------------------------------------------ secrets
    def search_secrets(self, req: Request) -> Result:
        paging = parse_paging(req.query, self.page_cap)
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

        org = self.org
        return self._page(req, ("secrets",), candidates,
                          lambda s: render.secret_record(org, s, extended))

    def get_secret(self, req: Request) -> Result:
        with self.org.lock:
            secret_id = req.id()
            path = (req.query.get("secretpath") or [""])[-1]
            if secret_id == 0 and path:  # GET /secrets/0?secretPath=\\Folder\\Name, as the SDKs do
                secret_id = self._secret_by_path(path)
            secret = self._get_secret(secret_id, req.flag("includeInactive"))
            return 200, render.secret_model(self.org, secret)

    def get_secret_summary(self, req: Request) -> Result:
        with self.org.lock:
            secret = self._get_secret(req.id(), True)
            return 200, render.secret_record(self.org, secret)

    def create_secret(self, req: Request) -> Result:
        body = req.json()
        name = str_field(body, "name", required=True)
        template_id = int_field(body, "secretTemplateId", required=True)
        folder_id = int_field(body, "folderId")
        assert name is not None and template_id is not None
        template = TEMPLATES.get(template_id)
        if template is None:
            raise BadRequest("Invalid secret template.", "API_InvalidSecretTemplate")
        items = body.get("items") or []
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
        with self.org.lock:
            if folder_id not in (None, ROOT_FOLDER_ID):
                assert folder_id is not None
                self._get_folder(folder_id)
            secret_id = self.org.add_secret(
                name, folder_id, inherits_permissions=True, template_id=template_id, items=values,
                auto_change_enabled=bool_field(body, "autoChangeEnabled", False),
                check_out_enabled=bool_field(body, "checkOutEnabled", False),
                requires_comment=bool_field(body, "requiresComment", False),
                site_id=int_field(body, "siteId") or 1,
            )
            if not bool_field(body, "enableInheritPermissions", True):  # starts from the folder's
                self.org.set_secret_inherits_permissions(secret_id, False)
            return 200, render.secret_model(self.org, self.org.secret_map[secret_id])

