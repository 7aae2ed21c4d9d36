"""Secret Server connector: the only code that speaks Secret Server's REST API.

Callers iterate typed records and call typed operations; HTTP, tokens, paging and retries stay
inside. Nothing here reads settings: every option is an argument of `SecretServerClient`.
"""

from connectors.secret_server.client import SecretServerClient
from connectors.secret_server.errors import (
    ApiError,
    AuthenticationError,
    FanOutError,
    OutOfTime,
    PagingError,
    SecretServerError,
    TlsError,
    TransientError,
)
from connectors.secret_server.protocols import SecretServerAccess, SecretServerReads, SecretServerWrites
from connectors.secret_server.records import (
    ConnectionReport,
    DeletedRecord,
    FolderPermissionRecord,
    FolderRecord,
    GroupMemberRecord,
    GroupRecord,
    SecretPermissionRecord,
    SecretRecord,
    UserRecord,
)
from connectors.secret_server.redaction import RedactingFilter, redact
from connectors.secret_server.stats import ClientStats
from connectors.secret_server.transport import never_connected

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ClientStats",
    "ConnectionReport",
    "DeletedRecord",
    "FanOutError",
    "FolderPermissionRecord",
    "FolderRecord",
    "GroupMemberRecord",
    "GroupRecord",
    "OutOfTime",
    "PagingError",
    "RedactingFilter",
    "SecretPermissionRecord",
    "SecretRecord",
    "SecretServerAccess",
    "SecretServerClient",
    "SecretServerError",
    "SecretServerReads",
    "SecretServerWrites",
    "TlsError",
    "TransientError",
    "UserRecord",
    "never_connected",
    "redact",
]
