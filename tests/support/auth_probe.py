"""A second process that holds a tenant key in TenantAuth's cache and reports its revocation.

Usage: ``python -m tests.support.auth_probe NATS_URL API_KEY``. Prints ``ready`` once the
key resolved (and is cached for 30 s), then ``revoked <unix time>`` the moment it stops
working, and exits.
"""

from __future__ import annotations

import asyncio
import sys
import time

from ragapi_common.auth import TenantAuth
from ragapi_common.bus import Bus
from ragapi_common.errors import Unauthorized


async def main(nats_url: str, api_key: str) -> None:
    bus = await Bus.connect(nats_url, name="auth-probe")
    auth = TenantAuth(bus, ttl_s=30)
    await auth.start()
    await auth.resolve(api_key)
    print("ready", flush=True)
    try:
        while True:
            try:
                await auth.resolve(api_key)
            except Unauthorized:
                print(f"revoked {time.time()}", flush=True)
                return
            await asyncio.sleep(0.01)
    finally:
        await bus.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
