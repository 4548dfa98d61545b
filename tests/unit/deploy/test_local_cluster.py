"""deploy/local.py's three-broker cluster (KIPINA_KAFKA_BROKERS=3): ports, paths, replication, bootstrap."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy import local

BASE = {"KIPINA_STATE_DIR": "/tmp/kipina-unit", "KIPINA_KAFKA_PORT": "19492", "KIPINA_KAFKA_CONTROLLER_PORT": "19493"}


def test_single_broker_keeps_its_ports_paths_and_replication() -> None:
    s = local.load_settings(BASE)
    (node,) = s.kafka_nodes
    assert (node.port, node.controller_port) == (19492, 19493)
    assert s.bootstrap == "127.0.0.1:19492"
    assert node.server_properties == Path("/tmp/kipina-unit/kafka/config/server.properties")
    assert node.pid_file.name == "kafka.pid" and node.log.name == "kafka.log"
    assert (s.topic_replication, s.topic_min_insync) == (1, 1)


def test_cluster_brokers_take_every_second_port_and_their_own_directories() -> None:
    s = local.load_settings({**BASE, "KIPINA_KAFKA_BROKERS": "3"})
    nodes = s.kafka_nodes
    assert [(n.node_id, n.port, n.controller_port) for n in nodes] == [
        (1, 19492, 19493),
        (2, 19494, 19495),
        (3, 19496, 19497),
    ]
    assert s.bootstrap == "127.0.0.1:19492,127.0.0.1:19494,127.0.0.1:19496"
    assert len({n.data for n in nodes} | {n.pid_file for n in nodes} | {n.log for n in nodes}) == 9
    assert nodes[1].data == Path("/tmp/kipina-unit/kafka/cluster/node-2/data")
    assert (s.topic_replication, s.topic_min_insync) == (3, 2)


def test_cluster_config_names_three_voters_and_replicates_everything(tmp_path: Path) -> None:
    s = local.load_settings({**BASE, "KIPINA_STATE_DIR": str(tmp_path), "KIPINA_KAFKA_BROKERS": "3"})
    node = s.kafka_node(2)
    local._kafka_write_config(s, node)
    config = dict(
        line.split("=", 1) for line in node.server_properties.read_text().splitlines() if "=" in line and line[0] != "#"
    )
    assert config["node.id"] == "2"
    assert config["controller.quorum.voters"] == "1@127.0.0.1:19493,2@127.0.0.1:19495,3@127.0.0.1:19497"
    assert config["listeners"] == "PLAINTEXT://127.0.0.1:19494,CONTROLLER://127.0.0.1:19495"
    for key in ("default.replication.factor", "offsets.topic.replication.factor"):
        assert config[key] == "3"
    assert config["min.insync.replicas"] == "2" and config["transaction.state.log.min.isr"] == "2"
    assert config["unclean.leader.election.enable"] == "false"


def test_our_cluster_bootstrap_is_not_external_and_another_is() -> None:
    ours = "127.0.0.1:19492,127.0.0.1:19494,127.0.0.1:19496"
    assert local.load_settings({**BASE, "KIPINA_KAFKA_BROKERS": "3", "KIPINA_KAFKA_BOOTSTRAP": ours}).manage_kafka
    other = local.load_settings({**BASE, "KIPINA_KAFKA_BROKERS": "3", "KIPINA_KAFKA_BOOTSTRAP": "10.0.0.1:9092"})
    assert other.external_kafka == "10.0.0.1:9092"
    # The single broker does not take the cluster's addresses for its own.
    assert not local.load_settings({**BASE, "KIPINA_KAFKA_BOOTSTRAP": ours}).manage_kafka


@pytest.mark.parametrize("brokers", ["2", "4", "many"])
def test_only_one_broker_or_three(brokers: str) -> None:
    with pytest.raises(local.InfraError, match="KIPINA_KAFKA_BROKERS"):
        local.load_settings({**BASE, "KIPINA_KAFKA_BROKERS": brokers})


def test_cluster_ports_must_not_meet_postgresql() -> None:
    with pytest.raises(local.InfraError, match="must differ"):
        local.load_settings({**BASE, "KIPINA_KAFKA_BROKERS": "3", "KIPINA_PG_PORT": "19496"})


def test_there_is_no_fourth_node() -> None:
    with pytest.raises(local.InfraError, match="no Kafka node 4"):
        local.load_settings({**BASE, "KIPINA_KAFKA_BROKERS": "3"}).kafka_node(4)
