"""Changes to folders and secrets (the objects permissions stand on)."""

from __future__ import annotations

from typing import Any

from simulator.records import DEFAULT_TEMPLATE_ID, ROOT_FOLDER_ID, TEMPLATES, Folder, Secret
from simulator.state.store import SIM_NOW, NotFound, Store


class Objects(Store):
    """Adds, changes and removes folders and secrets."""

    # ------------------------------------------------------------------ folders
    def add_folder(self, name: str, parent_folder_id: int | None = None,
                   inherit_permissions: bool = True, *, personal_user_id: int | None = None,
                   folder_type_id: int = 1) -> int:
        """Create a folder under a parent (None or -1: a root folder); return its id."""
        with self.lock:
            parent = self._existing_folder_or_root(parent_folder_id)
            parent_path = "" if parent == ROOT_FOLDER_ID else self.folder_map[parent].path
            folder_id = self._new_id("folder")
            self.folder_map[folder_id] = Folder(folder_id, name, parent, inherit_permissions,
                                                f"{parent_path}\\{name}", folder_type_id=folder_type_id,
                                                personal_user_id=personal_user_id)
            self.folder_children.setdefault(parent, []).append(folder_id)
            self.folder_children[folder_id] = []
            self.folder_perms_by_folder[folder_id] = {}
            self.secrets_by_folder[folder_id] = {}
            self._touch()
            return folder_id

    def rename_folder(self, folder_id: int, new_name: str) -> None:
        """Change a folder's name; its path and the paths below it follow."""
        with self.lock:
            folder = self._folder(folder_id)
            folder.name = new_name
            self._repath(folder)
            self._touch()

    def _repath(self, folder: Folder) -> None:
        parent_path = "" if folder.parent_id == ROOT_FOLDER_ID else self.folder_map[folder.parent_id].path
        folder.path = f"{parent_path}\\{folder.name}"
        for child in self.folder_children.get(folder.id, ()):
            self._repath(self.folder_map[child])

    def remove_folder(self, folder_id: int) -> None:
        """Remove an empty folder (no subfolders, no secrets) and its permissions."""
        with self.lock:
            folder = self._folder(folder_id)
            if self.folder_children[folder_id] or self.secrets_by_folder[folder_id]:
                raise ValueError(f"folder {folder_id} is not empty")
            for perm_id in list(self.folder_perms_by_folder[folder_id]):
                self._delete_folder_perm(perm_id)
            self.folder_children[folder.parent_id].remove(folder_id)
            for index in (self.folder_children, self.folder_perms_by_folder, self.secrets_by_folder):
                del index[folder_id]
            del self.folder_map[folder_id]
            self._touch()

    def _existing_folder_or_root(self, folder_id: int | None) -> int:
        """The id of an existing folder, or ROOT_FOLDER_ID for None and -1 (NotFound otherwise)."""
        if folder_id is None or folder_id == ROOT_FOLDER_ID:
            return ROOT_FOLDER_ID
        return self._folder(folder_id).id

    # ------------------------------------------------------------------ secrets
    def add_secret(self, name: str, folder_id: int | None, inherits_permissions: bool = True,
                   active: bool = True, template_id: int = DEFAULT_TEMPLATE_ID, *,
                   create_date: str = SIM_NOW, last_accessed: str | None = None,
                   items: dict[str, str] | None = None, **extra: Any) -> int:
        """Create a secret in a folder (None or -1: outside any folder); return its id."""
        with self.lock:
            folder = self._existing_folder_or_root(folder_id)
            if template_id not in TEMPLATES:
                raise NotFound(f"secret template {template_id}")
            secret_id = self._new_id("secret")
            self.secret_map[secret_id] = Secret(secret_id, name, folder, template_id, active,
                                                inherits_permissions, create_date, last_accessed,
                                                items=items, **extra)
            self.secrets_by_folder.setdefault(folder, {})[secret_id] = None
            self.secret_perms_by_secret[secret_id] = {}
            self._touch()
            return secret_id

    def set_secret_active(self, secret_id: int, active: bool) -> None:
        """Activate or deactivate a secret."""
        with self.lock:
            self._secret(secret_id).active = active
            self._touch()

    def rename_secret(self, secret_id: int, new_name: str) -> None:
        """Change a secret's name."""
        with self.lock:
            self._secret(secret_id).name = new_name
            self._touch()

    def move_secret(self, secret_id: int, folder_id: int | None) -> None:
        """Move a secret to another folder (None or -1: outside any folder)."""
        with self.lock:
            secret = self._secret(secret_id)
            target = self._existing_folder_or_root(folder_id)
            self.secrets_by_folder[secret.folder_id].pop(secret_id, None)
            self.secrets_by_folder.setdefault(target, {})[secret_id] = None
            secret.folder_id = target
            self._touch()

    def remove_secret(self, secret_id: int) -> None:
        """Remove a secret and its permissions."""
        with self.lock:
            secret = self._secret(secret_id)
            for perm_id in list(self.secret_perms_by_secret[secret_id]):
                self._delete_secret_perm(perm_id)
            del self.secret_perms_by_secret[secret_id]
            self.secrets_by_folder[secret.folder_id].pop(secret_id, None)
            del self.secret_map[secret_id]
            self._touch()
