"""Render stored records into the API's JSON shapes (field names as in the official collection).

Every function takes plain records (simulator/records.py) and the few facts about related records
that the shape names (a domain's name, a group's member count); it never sees the organization.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from simulator.records import (
    FOLDER_ROLES,
    FOLDER_SECRET_ROLES,
    NEVER,
    SECRET_ROLES,
    TEMPLATES,
    Domain,
    Folder,
    FolderPermission,
    Group,
    Secret,
    SecretPermission,
    User,
)

Record = dict[str, Any]


def user_record(u: User, domain_name: str | None) -> Record:
    """GET /users record."""
    return {
        "created": u.created, "displayName": u.display_name, "domainId": u.domain_id,
        "domainName": domain_name, "emailAddress": u.email_address,
        "enabled": u.enabled, "id": u.id, "isApplicationAccount": u.is_application_account,
        "isLockedOut": u.is_locked_out, "lastLogin": u.last_login, "loginFailures": u.login_failures,
        "userName": u.user_name,
    }


def user_model(u: User) -> Record:
    """GET/POST/PUT/PATCH /users/{id} UserModel."""
    return {
        "adAccountExpires": None, "adGuid": u.ad_guid, "created": u.created, "dateOptionId": -1,
        "displayName": u.display_name, "domainId": u.domain_id, "duoTwoFactor": False,
        "emailAddress": u.email_address, "enabled": u.enabled, "fido2TwoFactor": False, "id": u.id,
        "isApplicationAccount": u.is_application_account, "isEmailCopiedFromAD": u.ad_guid is not None,
        "isEmailVerified": False, "isLockedOut": u.is_locked_out, "lastLogin": u.last_login,
        "lastSessionActivity": u.last_login, "lockOutReason": "LoginFailures" if u.is_locked_out else None,
        "lockOutReasonDescription": "Too many login failures" if u.is_locked_out else None,
        "loginFailures": u.login_failures, "mustVerifyEmail": False, "oathTwoFactor": False,
        "oathVerified": False, "passwordLastChanged": u.password_last_changed, "radiusTwoFactor": False,
        "radiusUserName": None, "resetSessionStarted": NEVER, "timeOptionId": -1,
        "twoFactor": u.two_factor, "unixAuthenticationMethod": "Password", "userLcid": 0,
        "userName": u.user_name, "verifyEmailSentDate": NEVER,
    }


def group_record(g: Group, domain_name: str | None, member_count: int) -> Record:
    """GET /groups record."""
    return {
        "created": g.created, "domainGuid": g.ad_guid, "domainId": g.domain_id,
        "domainName": domain_name, "enabled": g.enabled, "id": g.id, "memberCount": member_count,
        "name": g.name, "synchronized": g.synchronized, "synchronizeNow": False,
    }


def group_model(g: Group, domain_name: str | None) -> Record:
    """GET/POST /groups/{id} GroupModel."""
    return {
        "adGuid": g.ad_guid, "canEditMembers": not g.synchronized and not g.system_group,
        "created": g.created, "domainId": g.domain_id, "domainName": domain_name,
        "enabled": g.enabled, "hasGroupOwners": False, "id": g.id, "isEditable": not g.system_group,
        "name": g.name, "ownerGroups": {}, "owners": [], "ownerUsers": {},
        "synchronized": g.synchronized, "synchronizeNow": False, "systemGroup": g.system_group,
    }


def membership_record(g: Group, u: User, group_domain_name: str | None, user_domain_name: str | None) -> Record:
    """GET /groups/{id}/users and GET /users/{id}/groups record."""
    return {
        "displayName": u.display_name, "enabled": u.enabled, "groupDomainId": g.domain_id,
        "groupDomainName": group_domain_name, "groupId": g.id, "groupName": g.name,
        "userDomainId": u.domain_id, "userDomainName": user_domain_name, "userId": u.id,
        "userName": u.user_name,
    }


def added_member_record(g: Group, u: User) -> Record:
    """POST /groups/{id}/users answer."""
    return {
        "groupDomainId": g.domain_id, "groupId": g.id, "groupName": g.name, "userDomainId": u.domain_id,
        "userId": u.id, "userName": u.user_name,
    }


def folder_record(f: Folder) -> Record:
    """GET /folders record."""
    return {
        "folderName": f.name, "folderPath": f.path, "folderTypeId": f.folder_type_id, "id": f.id,
        "inheritPermissions": f.inherit_permissions, "inheritSecretPolicy": f.inherit_secret_policy,
        "parentFolderId": f.parent_id, "secretPolicyId": f.secret_policy_id,
    }


def folder_model(f: Folder, child_folders: list[Record], with_templates: bool = False) -> Record:
    """GET /folders/{id} (and POST /folders) FolderModel, around the child models given."""
    record = folder_record(f)
    record["childFolders"] = child_folders
    record["secretTemplates"] = [
        {"active": True, "id": t.id, "name": t.name, "secretCount": 0} for t in TEMPLATES.values()
    ] if with_templates else []
    return record


def _principal_names(group: Group, user: User | None) -> tuple[str, str | None, str]:
    if user is not None:
        return group.name, user.user_name, user.display_name
    return group.name, None, group.name


def folder_permission_record(p: FolderPermission, group: Group, user: User | None) -> Record:
    """GET /folder-permissions record (also the POST and GET-by-id answer); `group` and `user` hold it."""
    group_name, user_name, known_as = _principal_names(group, user)
    return {
        "folderAccessRoleId": FOLDER_ROLES[p.folder_role], "folderAccessRoleName": p.folder_role,
        "folderId": p.folder_id, "groupId": p.group_id, "groupName": group_name, "id": p.id,
        "knownAs": known_as, "secretAccessRoleId": FOLDER_SECRET_ROLES[p.secret_role],
        "secretAccessRoleName": p.secret_role, "userId": p.user_id, "userName": user_name,
    }


def secret_permission_record(p: SecretPermission, group: Group, user: User | None) -> Record:
    """GET /secret-permissions record (also the POST and GET-by-id answer); `group` and `user` hold it."""
    group_name, user_name, known_as = _principal_names(group, user)
    return {
        "groupId": p.group_id, "groupName": group_name, "id": p.id, "knownAs": known_as,
        "secretAccessRoleId": SECRET_ROLES[p.role], "secretAccessRoleName": p.role,
        "secretId": p.secret_id, "userId": p.user_id, "userName": user_name,
    }


def secret_record(s: Secret, extended_fields: list[str] | None = None) -> Record:
    """GET /secrets record and GET /secrets/{id}/summary answer (no field values)."""
    template = TEMPLATES[s.template_id]
    extended: list[Record] = []
    if extended_fields:
        wanted = {name.lower() for name in extended_fields}
        values = secret_values(s)
        extended = [{"name": f.name, "value": values[f.slug]} for f in template.fields
                    if (f.name.lower() in wanted or f.slug in wanted) and not f.is_password]
    return {
        "active": s.active, "autoChangeEnabled": s.auto_change_enabled, "checkedOut": s.checked_out,
        "checkOutEnabled": s.check_out_enabled, "createDate": s.create_date, "daysUntilExpiration": None,
        "doubleLockEnabled": False, "extendedFields": extended, "folderId": s.folder_id,
        "hidePassword": False, "id": s.id, "inheritsPermissions": s.inherits_permissions,
        "isOutOfSync": False, "isRestricted": s.is_restricted, "lastAccessed": s.last_accessed,
        "lastHeartBeatStatus": s.last_heartbeat_status,
        "lastPasswordChangeAttempt": s.last_password_change_attempt, "name": s.name,
        "outOfSyncReason": None, "requiresApproval": s.requires_approval,
        "requiresComment": s.requires_comment, "responseCodes": [], "secretTemplateId": s.template_id,
        "secretTemplateName": template.name, "siteId": s.site_id,
    }


def secret_values(s: Secret) -> dict[str, str]:
    """Field values of a secret: the ones it was created with, else fake deterministic ones."""
    template = TEMPLATES[s.template_id]
    stored = s.items or {}
    digest = hashlib.sha256(f"sim-secret-{s.id}".encode()).hexdigest()
    fake = {
        "resource": f"resource-{s.id}.example.com", "username": f"account{s.id}",
        "password": f"Sim!{digest[:16]}", "notes": "", "domain": "corp.example.com",
        "machine": f"host-{s.id}.example.com", "server": f"sql-{s.id % 97}.example.com",
        "database": "master", "url": f"https://app{s.id % 50}.example.com/login",
    }
    return {f.slug: stored.get(f.slug, fake.get(f.slug, "")) for f in template.fields}


def secret_model(s: Secret) -> Record:
    """GET /secrets/{id} (and POST /secrets) SecretModel, with (fake) field values."""
    template = TEMPLATES[s.template_id]
    values = secret_values(s)
    items = [
        {"fieldDescription": f"The {f.name.lower()}", "fieldId": f.field_id, "fieldName": f.name,
         "fileAttachmentId": None, "filename": None, "isFile": False, "isNotes": f.is_notes,
         "isPassword": f.is_password, "itemId": s.id * 10 + index, "itemValue": values[f.slug],
         "slug": f.slug}
        for index, f in enumerate(template.fields)
    ]
    return {
        "accessRequestWorkflowMapId": -1, "active": s.active, "allowOwnersUnrestrictedSshCommands": False,
        "autoChangeEnabled": s.auto_change_enabled, "autoChangeNextPassword": None,
        "checkedOut": s.checked_out, "checkOutChangePasswordEnabled": False,
        "checkOutEnabled": s.check_out_enabled, "checkOutIntervalMinutes": -1,
        "checkOutMinutesRemaining": -1, "checkOutUserDisplayName": None, "checkOutUserId": -1,
        "doubleLockId": -1, "enableInheritPermissions": s.inherits_permissions,
        "enableInheritSecretPolicy": True, "failedPasswordChangeAttempts": 0, "folderId": s.folder_id,
        "id": s.id, "isDoubleLock": False, "isOutOfSync": False, "isRestricted": s.is_restricted,
        "items": items, "lastHeartBeatCheck": s.last_heartbeat_check,
        "lastHeartBeatStatus": s.last_heartbeat_status,
        "lastPasswordChangeAttempt": s.last_password_change_attempt, "launcherConnectAsSecretId": -1,
        "name": s.name, "outOfSyncReason": None, "passwordTypeWebScriptId": -1, "proxyEnabled": False,
        "requiresApprovalForAccess": s.requires_approval, "requiresComment": s.requires_comment,
        "responseCodes": [], "restrictSshCommands": False, "secretPolicyId": -1,
        "secretTemplateId": s.template_id, "secretTemplateName": template.name,
        "sessionRecordingEnabled": False, "siteId": s.site_id, "webLauncherRequiresIncognitoMode": False,
    }


def domain_record(d: Domain) -> Record:
    """GET /domains record."""
    return {
        "active": d.active, "concurrencyId": str(uuid.uuid5(uuid.NAMESPACE_DNS, d.name)),
        "distinguishedName": d.distinguished_name, "domainId": d.id, "domainName": d.name,
        "domainType": "ActiveDirectory", "friendlyName": d.friendly_name,
        "requireRadiusAuthentication": False, "siteId": 1, "useSecureLdap": True,
    }


def deleted(object_id: int, object_type: str) -> Record:
    """The DeletedModel answered by DELETE endpoints."""
    return {"id": object_id, "objectType": object_type, "responseCodes": []}
