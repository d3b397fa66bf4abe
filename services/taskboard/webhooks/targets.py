"""Where a webhook may be sent: never into the cluster or the cloud's metadata service
(SSRF). Checked at create, update and send time, on every address the name resolves to; the
sender then connects to the checked address itself, so a name that resolves elsewhere a
moment later (DNS rebinding) changes nothing."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

_BLOCKED = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
        "64:ff9b::/96",  # NAT64 of anything
    )
]


RESOLVE_TIMEOUT_SECONDS = 5


class TargetRefused(ValueError):
    """The URL may not be called (its reason is the message)."""


def allowed_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return allowed_address(str(mapped))
        if ip.teredo is not None:
            return False
    return not any(ip in network for network in _BLOCKED) and not ip.is_reserved


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, or TargetRefused."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:  # "Invalid IPv6 URL": an unbalanced [
        raise TargetRefused("is not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise TargetRefused("must be an http or https URL with a host")
    if parts.username or parts.password:
        raise TargetRefused("must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise TargetRefused("has an invalid port") from exc
    return parts.scheme, host, port


async def resolve(url: str, *, allow_private: bool) -> str:
    """The address to connect to for `url`, checked; TargetRefused otherwise."""
    _, host, port = check_url(url)
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
            loop = asyncio.get_running_loop()
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError as exc:
        raise TargetRefused("did not resolve in time") from exc
    except OSError as exc:
        raise TargetRefused(f"does not resolve ({exc.strerror or exc})") from exc
    except UnicodeError as exc:  # the idna codec: an empty or overlong label
        raise TargetRefused("is not a valid host name") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise TargetRefused("does not resolve")
    if not allow_private:
        refused = [a for a in addresses if not allowed_address(a)]
        if refused:
            raise TargetRefused(f"resolves to a private or reserved address ({refused[0]})")
    return addresses[0]
