"""Folders: search, lookup, read (with the whole subtree on request), create."""

from __future__ import annotations

from typing import Any

from simulator import render
from simulator.paging import BadRequest, Filters
from simulator.records import ROOT_FOLDER_ID, Folder
from simulator.routes.base import V1, Request, Resource, Result, Route, contains
from simulator.routes.fields import bool_field, int_field, required, str_field


class Folders(Resource):
    """The /folders endpoints."""

    def routes(self) -> list[Route]:
        """GET/POST /folders, GET /folders/lookup, GET /folders/{id}."""
        return [
            ("GET", f"{V1}/folders", self.search_folders, "folders"),
            ("POST", f"{V1}/folders", self.create_folder, None),
            ("GET", f"{V1}/folders/lookup", self.lookup_folders, "folders"),
            ("GET", f"{V1}/folders/{{id}}", self.get_folder, None),
        ]

    def _folder_candidates(self, f: Filters) -> list[Any]:
        parent = f.int("parentFolderId")
        folder_type = f.int("folderTypeId")
        text = f.text("searchText")
        return [x for x in self.org.folder_map.values()
                if (parent is None or x.parent_id == parent)
                and (folder_type is None or x.folder_type_id == folder_type) and contains(text, x.name)]

    def search_folders(self, req: Request) -> Result:
        """GET /folders: by parent, folder type and text."""
        return self.pager.page(req, ("folders",), self._folder_candidates, render.folder_record)

    def lookup_folders(self, req: Request) -> Result:
        """GET /folders/lookup: the same search, answered as ``{id, value}`` pairs."""
        return self.pager.page(req, ("folders_lookup",), self._folder_candidates,
                               lambda x: {"id": x.id, "value": x.name})

    def get_folder(self, req: Request) -> Result:
        """GET /folders/{id} (or /folders/0?folderPath=\\A\\B, as the SDKs ask)."""
        with self.org.lock:
            folder = self._get_folder(req.id_or_path("folderPath", self._folder_by_path))
            return 200, self._model(folder, req.flag("getAllChildren"), req.flag("includeAssociatedTemplates"))

    def _model(self, folder: Folder, all_children: bool = False, with_templates: bool = False) -> dict[str, Any]:
        """The FolderModel, with every folder below it when `all_children` is asked."""
        children = [self._model(self.org.folder_map[child_id], True, with_templates)
                    for child_id in self.org.folder_children.get(folder.id, ())] if all_children else []
        return render.folder_model(folder, children, with_templates)

    def create_folder(self, req: Request) -> Result:
        """POST /folders: a new folder, unique by name among its siblings."""
        body = req.json()
        name = required(str_field(body, "folderName"), "folderName")
        parent = int_field(body, "parentFolderId")
        parent = ROOT_FOLDER_ID if parent in (None, 0, ROOT_FOLDER_ID) else parent
        org = self.org
        with org.lock:
            if parent != ROOT_FOLDER_ID:
                self._get_folder(parent)
            for sibling in org.folder_children.get(parent, ()):
                if org.folder_map[sibling].name.lower() == name.lower():
                    raise BadRequest("A folder with this name already exists here.", "API_DuplicateFolderName")
            folder_id = org.add_folder(name, parent, True, folder_type_id=int_field(body, "folderTypeId") or 1)
            if not bool_field(body, "inheritPermissions", True):  # starts from a copy of the parent's
                org.set_folder_inherit_permissions(folder_id, False)
            return 200, self._model(org.folder_map[folder_id])
