"""prod's NATS: three JetStream servers in one cluster (components/nats-cluster).

The shape is checked on the render; then the rendered config itself (with the users of
nats-auth.conf and the Secret's passwords) runs as three local servers, and a service's
bus, connected as that service's user, keeps the job stream and the file bucket on all
three.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from ragapi_common.bus import Bus
from ragapi_common.contracts import subjects
from tests.deploy.manifests import (
    Obj,
    config_data,
    config_files,
    container,
    one,
    overlay,
    selects,
    server_environment,
)
from tests.support.servers import free_port, nats_server_binary
from tests.support.slowness import slowness


def _cluster() -> tuple[tuple[Obj, ...], Obj, dict[str, str]]:
    objs = overlay("prod")
    nats = one(objs, "StatefulSet", "nats")
    args = container(nats)["args"]
    path = args[args.index("--config") + 1]
    return objs, nats, config_files(objs, nats["spec"]["template"]["spec"], path)


def test_three_servers_one_per_node_each_with_its_store() -> None:
    objs, nats, files = _cluster()
    spec = nats["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["replicas"] == 3
    assert spec["podManagementPolicy"] == "Parallel"  # a quorum is needed to be ready
    (term,) = spec["template"]["spec"]["affinity"]["podAntiAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert selects(term["labelSelector"]["matchLabels"], labels)
    assert re.search(r"^jetstream \{", files["nats.conf"], re.MULTILINE)
    args = container(nats)["args"]
    (claim,) = spec["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container(nats)["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == args[args.index("--store_dir") + 1]
    pdb = one(objs, "PodDisruptionBudget", "nats")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert selects(pdb["spec"]["selector"]["matchLabels"], labels)


def test_the_routes_name_every_server_through_the_headless_service() -> None:
    objs, nats, files = _cluster()
    spec = nats["spec"]
    headless = one(objs, "Service", spec["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    ports = {p["name"]: p["containerPort"] for p in container(nats)["ports"]}
    cluster_port = int(re.search(r"cluster \{[^}]*?port:\s*(\d+)", files["nats.conf"])[1])  # type: ignore[index]
    assert ports["cluster"] == cluster_port
    routes = set(re.findall(r"nats://([\w.-]+):(\d+)", files["nats.conf"]))
    name, service = nats["metadata"]["name"], spec["serviceName"]
    assert routes == {(f"{name}-{i}.{service}", str(cluster_port)) for i in range(spec["replicas"])}
    # Each server's name is its pod's (JetStream needs them unique and stable).
    assert "server_name: $POD_NAME" in files["nats.conf"]
    (env,) = container(nats)["env"]
    assert env == {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}


def test_shutdown_goes_through_lame_duck_mode_within_the_grace_period() -> None:
    _, nats, files = _cluster()
    box = container(nats)
    pid_file = re.search(r"pid_file:\s*(\S+)", files["nats.conf"])
    assert pid_file
    assert box["lifecycle"]["preStop"]["exec"]["command"] == [
        "nats-server", "--signal", f"ldm={pid_file[1]}",
    ]  # fmt: skip
    mounts = {m["mountPath"] for m in box["volumeMounts"]}
    assert pid_file[1].rsplit("/", 1)[0] in mounts, "the pid file needs a writable directory"
    lame_duck = _seconds(files["nats.conf"], "lame_duck_duration")
    grace = _seconds(files["nats.conf"], "lame_duck_grace_period")
    assert nats["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > lame_duck + grace


def _seconds(config: str, key: str) -> int:
    found = re.search(rf"{key}:\s*(\d+)s", config)
    assert found, key
    return int(found[1])


def test_the_services_keep_as_many_copies_as_there_are_servers() -> None:
    objs, nats, _ = _cluster()
    assert int(config_data(objs, "prod")["RAGAPI_NATS_REPLICAS"]) == nats["spec"]["replicas"]


@contextlib.contextmanager
def _local_cluster(tmp_path: Path) -> Iterator[tuple[list[str], list[int], dict[str, str]]]:
    """The rendered config on three local servers: only addresses, ports and paths are
    overridden on the command line; users, permissions, JetStream and cluster are its own."""
    objs, nats, files = _cluster()
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    client, route, monitor = ([free_port() for _ in range(3)] for _ in range(3))
    routes = ",".join(f"nats://127.0.0.1:{port}" for port in route)
    procs = []
    logs = contextlib.ExitStack()
    for i in range(3):
        environment = server_environment(objs, "prod", container(nats), f"nats-{i}")
        # Only addresses, ports and paths differ from the pods'.
        argv = [nats_server_binary(), "-c", str(tmp_path / "nats.conf"), "-a", "127.0.0.1",
                "-p", str(client[i]), "-m", str(monitor[i]), "-sd", str(tmp_path / f"data{i}"),
                "-P", str(tmp_path / f"nats{i}.pid"), "--cluster", f"nats://127.0.0.1:{route[i]}",
                "--routes", routes]  # fmt: skip
        log = logs.enter_context((tmp_path / f"nats{i}.log").open("w"))
        procs.append(subprocess.Popen(argv, env=environment, stdout=log, stderr=log))
    try:
        yield [f"nats://127.0.0.1:{port}" for port in client], monitor, environment
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
        logs.close()


async def _until_healthy(monitor: list[int]) -> None:
    """Every server answers and reports JetStream current (a meta leader elected)."""
    deadline = time.monotonic() + 60 * slowness()
    async with httpx.AsyncClient() as http:
        for port in monitor:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                assert time.monotonic() < deadline, f"server on {port} never became healthy"
                await asyncio.sleep(0.2)


async def test_a_service_keeps_jobs_and_files_on_all_three_servers(tmp_path: Path) -> None:
    objs = overlay("prod")
    replicas = int(config_data(objs, "prod")["RAGAPI_NATS_REPLICAS"])
    with _local_cluster(tmp_path) as (urls, monitor, environment):
        await _until_healthy(monitor)
        password = environment["NATS_PASSWORD_INGEST"]
        # A deployment that started on one copy (before RAGAPI_NATS_REPLICAS) ...
        first = await Bus.connect(urls[0], name="ingest", user="ingest", password=password,
                                  timeout_s=10)  # fmt: skip
        await first.close()
        # ... is raised to one per server when the services start with the setting.
        bus = await Bus.connect(urls[1], name="ingest", user="ingest", password=password,
                                timeout_s=10, replicas=replicas)  # fmt: skip
        try:
            for stream in (subjects.JOBS_STREAM, f"OBJ_{subjects.FILES_BUCKET}"):
                assert (await bus.js.stream_info(stream)).config.num_replicas == 3, stream
                await _until_copied(bus, stream, followers=2)
        finally:
            await bus.close()


async def _until_copied(bus: Bus, stream: str, followers: int) -> None:
    """The stream's leader sees ``followers`` current copies on the other servers."""
    deadline = time.monotonic() + 30 * slowness()
    while True:
        cluster = (await bus.js.stream_info(stream)).cluster
        peers = [p for p in (cluster.replicas or []) if p.current] if cluster else []
        if cluster and cluster.leader and len(peers) == followers:
            return
        assert time.monotonic() < deadline, f"{stream}: {cluster}"
        await asyncio.sleep(0.2)
