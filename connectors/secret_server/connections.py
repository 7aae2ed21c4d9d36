"""The HTTP connection pool for one client: keep-alive connections, the environment's proxy and CA bundle read
as `requests` reads them (the transport itself calls urllib3 directly, for speed)."""

from __future__ import annotations

import os
from typing import Any

import certifi
import requests
import urllib3


def pool_manager(base_url: str, verify: bool | str, pool_size: int) -> urllib3.PoolManager:
    """Keep-alive connections to the server, through the environment's proxy for it if any; TLS verified
    against ``verify`` (True: ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` if set, else certifi's bundle)."""
    tls: dict[str, Any] = {"cert_reqs": "CERT_NONE"} if verify is False else {"cert_reqs": "CERT_REQUIRED"}
    if verify is not False:
        bundle = verify if isinstance(verify, str) else (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where())
        tls["ca_cert_dir" if os.path.isdir(bundle) else "ca_certs"] = bundle
    # block=False: a burst past the pool opens a connection for the call and closes it after
    options: dict[str, Any] = {"num_pools": 2, "maxsize": pool_size, "block": False, **tls}
    proxy = requests.utils.get_environ_proxies(base_url).get(base_url.split(":", 1)[0].lower())
    if proxy:
        return urllib3.ProxyManager(proxy, **options)
    return urllib3.PoolManager(**options)
