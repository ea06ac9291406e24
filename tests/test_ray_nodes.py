"""Ingest on a Ray cluster of two nodes: a head and a second node (``ray.cluster_utils.Cluster``:
each a real Ray node, with its own raylet, object store and worker processes, here on one
machine) writing to a real Chroma server. The workers are spread over both nodes; when a node
goes away in the middle of a run only its batches are lost, and a rerun on the node that is
left finishes without duplicates."""

# ruff: noqa: F811  (the fixtures imported from test_ray_ingest are used as arguments)
from __future__ import annotations

import pytest
import ray
from ray.cluster_utils import Cluster

from retrieval.discovery import discover
from retrieval.errors import IngestIncompleteError
from retrieval.ray_ingest import IngestOptions, RayIngest
from tests.test_ray_ingest import (  # noqa: F401  (fixtures)
    BATCH,
    PICTURES,
    chroma_url,
    config_for,
    folder,
    local,
    server_index,
)

STORE = 100 * 1024 * 1024


@pytest.fixture(scope="module")
def two_nodes():
    """A head node and a second node of one CPU each; this process is the driver."""
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False, "object_store_memory": STORE},
    )
    second = cluster.add_node(num_cpus=1, object_store_memory=STORE)
    ray.init(address=cluster.address)
    cluster.wait_for_nodes()
    try:
        yield cluster, second
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_workers_spread_over_two_nodes_and_a_lost_node_loses_only_its_batches(
    two_nodes, folder, local, chroma_url, tmp_path, model_cache
):
    cluster, second = two_nodes
    library, _ = local
    config = config_for(chroma_url, tmp_path, model_cache)
    records = discover(folder)
    removed: list[int] = []

    def remove_the_second_node(done) -> None:
        if not removed:
            removed.append(done.number)
            cluster.remove_node(second)  # its raylet, object store and worker go away

    with RayIngest(config, 2, IngestOptions(batch_size=BATCH)) as pool:
        nodes = {where.split("(node ")[1] for where in pool.nodes}
        assert len(nodes) == 2  # one worker on each node
        with pytest.raises(IngestIncompleteError, match="a Ray worker died") as stopped:
            pool.ingest(records, progress=False, on_batch=remove_the_second_node)
    first = stopped.value.report
    assert 0 < stopped.value.unfinished < len(records)
    server = server_index(chroma_url, library)
    stored = server.count()  # a batch the lost node wrote before it went may be stored too
    assert first.added <= stored <= PICTURES

    with RayIngest(config, 1, IngestOptions(batch_size=BATCH)) as pool:  # the head alone
        again = pool.ingest(records, progress=False)
    assert (again.added, again.duplicates) == (PICTURES - stored, stored)  # none written twice
    assert server.count() == PICTURES
    assert sorted(server.vectors("content")[0]) == sorted(library.index.vectors("content")[0])
